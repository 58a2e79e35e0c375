//! What signing in with the identity provider costs a members page: the
//! first page of 50 (members_page's query: role, permissions, credits,
//! seat, joinedAt, user { id email name }, totalCount) of an organization of
//! 1,000 members, from 64 clients, authenticated by an orgql session token
//! and by a JWT of an OpenID provider (the oauth2-mock-server fixture of
//! tests/fixtures/oidc-provider, RS256). Both viewers are ADMINs of the
//! organization who joined by invitation, so the pages are the same. Rounds
//! of the two alternate (ABBA) to spread the machine's drift over both.
//! Prints requests/s, p50/p99 and server CPU per page of each, and the
//! ratios JWT/session. The target: within 10% (reported, not asserted).
//! SQLite always; PostgreSQL too when BENCH_POSTGRES_URL names a server.
//!
//! Run: `BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1 cargo bench --bench jwt_members_page`
//! (BENCH_SECONDS sets each round's length, default 3; BENCH_ROUNDS the
//! rounds of each, default 4). Needs Node.js and npm for the provider.

mod support;

use serde_json::json;
use support::fixtures::OidcProvider;
use support::{
    Load, MEMBERS_PAGE, ServerProcess, backends, closed_loop, data_without_errors, graphql,
    join_by_invitation, seed, sign_up,
};

const MEMBERS: usize = 1_000;
const CLIENTS: usize = 64;
const AUDIENCE: &str = "orgql-bench";
const JWT_EMAIL: &str = "jwt-admin@bench.example";
const SESSION_EMAIL: &str = "session-admin@bench.example";

#[tokio::main]
async fn main() {
    let length = support::bench_seconds(3);
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let provider = OidcProvider::start();
    println!(
        "members(first: 50) of {MEMBERS} members, session token vs provider JWT (RS256), {CLIENTS} clients, {rounds} rounds of {} s each",
        length.as_secs()
    );
    println!(
        "{:<11} {:<7} {:<8} {:>9} {:>8} {:>8} {:>8} {:>12}",
        "backend", "round", "auth", "req/s", "p50 ms", "p99 ms", "max ms", "CPU ms/page"
    );
    let mut summaries = Vec::new();
    for backend in backends() {
        let (dir, database_url) = backend.database("jwt");
        let seeded = seed(&database_url, MEMBERS);
        let server = ServerProcess::start(
            &database_url,
            &[
                "--oidc-issuer",
                &provider.issuer,
                "--oidc-audience",
                AUDIENCE,
            ],
        )
        .await
        .owning(dir);
        let http = reqwest::Client::new();
        let session = sign_up(&http, &server.base_url, SESSION_EMAIL).await;
        let jwt = provider
            .token(json!({
                "claims": { "sub": "jwt-admin", "aud": AUDIENCE, "email": JWT_EMAIL, "email_verified": true, "name": "JWT Admin" },
                "expiresIn": 3600,
            }))
            .await;
        // The provider's user exists from its first request on.
        let viewer = "{ viewer { user { email } } }";
        let seen = graphql(&http, &server.base_url, Some(&jwt), viewer, json!({})).await;
        assert_eq!(seen["viewer"]["user"]["email"], JWT_EMAIL);
        for (email, token) in [(SESSION_EMAIL, &session), (JWT_EMAIL, &jwt)] {
            join_by_invitation(
                &http,
                &server,
                &seeded.owner_token,
                &seeded.org,
                email,
                "ADMIN",
                token,
            )
            .await;
        }
        let variables = json!({
            "org": seeded.org,
            "after": null,
            "order": { "field": "JOINED_AT", "direction": "ASC" },
        });
        // Both see the same page: 50 members with their credits.
        for token in [&session, &jwt] {
            let page = graphql(
                &http,
                &server.base_url,
                Some(token),
                MEMBERS_PAGE,
                variables.clone(),
            )
            .await;
            let members = &page["organization"]["members"];
            assert_eq!(members["totalCount"], MEMBERS + 2);
            assert_eq!(members["edges"].as_array().unwrap().len(), 50);
            assert!(members["edges"][49]["node"]["credits"].is_number());
        }
        let body = vec![json!({ "query": MEMBERS_PAGE, "variables": variables }).to_string()];

        let (mut by_session, mut by_jwt) = (Vec::new(), Vec::new());
        for round in 0..rounds {
            // ABBA: session first in even rounds, JWT first in odd ones.
            let order = if round % 2 == 0 {
                [("session", &session), ("JWT", &jwt)]
            } else {
                [("JWT", &jwt), ("session", &session)]
            };
            for (auth, token) in order {
                let load = closed_loop(
                    &http,
                    &server,
                    token,
                    &body,
                    CLIENTS,
                    length,
                    data_without_errors,
                )
                .await;
                print_row(backend.name, &(round + 1).to_string(), auth, &load);
                match auth {
                    "session" => by_session.push(load),
                    _ => by_jwt.push(load),
                }
            }
        }
        let (session_load, jwt_load) = (Load::merge(by_session), Load::merge(by_jwt));
        print_row(backend.name, "all", "session", &session_load);
        print_row(backend.name, "all", "JWT", &jwt_load);
        summaries.push((backend.name, session_load, jwt_load));
        drop(server);
        backend.discard("jwt").await;
    }

    println!("\nJWT / session, all rounds (target: within 10%, i.e. at most 1.10)");
    println!(
        "{:<11} {:>14} {:>14} {:>14} {:>14}",
        "backend", "time per page", "p50", "p99", "CPU per page"
    );
    for (backend, session, jwt) in summaries {
        let ratios = [
            // Time per page: the inverse of throughput.
            session.per_second() / jwt.per_second(),
            jwt.ms(0.5) / session.ms(0.5),
            jwt.ms(0.99) / session.ms(0.99),
            jwt.cpu_ms_per_request() / session.cpu_ms_per_request(),
        ];
        let within = |r: f64| if r <= 1.10 { "" } else { " (over)" };
        println!(
            "{backend:<11} {:>14} {:>14} {:>14} {:>14}",
            format!("{:.3}{}", ratios[0], within(ratios[0])),
            format!("{:.3}{}", ratios[1], within(ratios[1])),
            format!("{:.3}{}", ratios[2], within(ratios[2])),
            format!("{:.3}{}", ratios[3], within(ratios[3])),
        );
    }
}

fn print_row(backend: &str, round: &str, auth: &str, load: &Load) {
    println!(
        "{backend:<11} {round:<7} {auth:<8} {:>9.0} {:>8.1} {:>8.1} {:>8.1} {:>12.3}",
        load.per_second(),
        load.ms(0.5),
        load.ms(0.99),
        load.ms(1.0),
        load.cpu_ms_per_request()
    );
}
