// Starts GraphiQL on orgql's GET /graphql page (assets/graphiql/index.html).
// It is a file rather than an inline <script> so that the page runs under a
// Content-Security-Policy with script-src 'self'. React, ReactDOM and
// GraphiQL are the UMD globals the page loaded just before this file.
//
// The endpoints come from the page: data-endpoint (GraphQL over HTTP) and
// data-subscription-endpoint (graphql-transport-ws) on #graphiql, both
// resolved against the page's origin; the WebSocket URL gets ws: or wss:
// to match http: or https:. GraphiQL.createFetcher sends the JSON of the
// Headers tab with every HTTP request and, for subscriptions, as the
// connection_init payload of the WebSocket (graphql-ws connectionParams),
// which is how orgql authenticates a subscription (Authorization: Bearer).
(function () {
  'use strict';

  var root = document.getElementById('graphiql');

  function createUrl(endpoint, subscription) {
    var url = new URL(endpoint, window.location.origin);
    if (subscription) url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    return url.toString();
  }

  function sameOriginFetch(url, options) {
    return window.fetch(url, Object.assign({}, options, { credentials: 'same-origin' }));
  }

  var fetcher = GraphiQL.createFetcher({
    url: createUrl(root.dataset.endpoint || '/graphql', false),
    subscriptionUrl: createUrl(root.dataset.subscriptionEndpoint || '/graphql/ws', true),
    fetch: sameOriginFetch,
  });

  ReactDOM.createRoot(root).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultEditorToolsVisibility: true,
    }),
  );
})();
