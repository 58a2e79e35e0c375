// How API values read on screen.

const day = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const moment = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

export const formatDay = (iso) => day.format(new Date(iso));
export const formatMoment = (iso) => moment.format(new Date(iso));
export const formatNumber = (n) => n.toLocaleString();

/** OWNER -> Owner, INVALID_EMAIL -> Invalid email. */
export const label = (value) => value.charAt(0) + value.slice(1).toLowerCase().replaceAll('_', ' ');

export const ASSIGNABLE_ROLES = ['ADMIN', 'MANAGER', 'MEMBER'];
export const ROLES = ['OWNER', ...ASSIGNABLE_ROLES];
export const SEATS = ['NONE', 'STANDARD', 'PRO'];

export const seatLabel = (seat) => (seat === 'NONE' ? 'No seat' : label(seat));

/** "1 member", "3 members", "2 entries". */
export const count = (n, noun, plural = `${noun}s`) => `${formatNumber(n)} ${n === 1 ? noun : plural}`;
