import { DEFAULT_MAX_TOKEN_LIFETIME_MINUTES, type ChartWardenOptions } from '../config/chartwarden.options.js';
import { DEMO_USERS, demoTokenRequest, type DemoUser } from '../demo/demo-users.js';
import { issueDevToken } from '../identity/dev-token.issuer.js';
import { ConsoleError, ConsoleErrorCode } from './console.errors.js';

/** How long a console sign-in lasts, in minutes (shorter when the server accepts less). */
export const DEV_SIGN_IN_MINUTES = 60;

/** A demo user as the sign-in page lists them: who, which roles, which job. */
export type DemoUserView = Pick<DemoUser, 'id' | 'name' | 'roles' | 'title' | 'department'>;

/** What the sign-in answers: the token, when it stops working, and whom it names. */
export interface DevSignIn {
  token: string;
  expiresAt: string;
  user: DemoUserView;
}

/** The demo users, as listed on the development sign-in page. */
export function demoUsers(): DemoUserView[] {
  return DEMO_USERS.map(({ id, name, roles, title, department }) => ({ id, name, roles: [...roles], title, ...(department ? { department } : {}) }));
}

/**
 * Signs a short development token for one demo user (dev key mode only: the caller checks the
 * mode). Only the users of `DEMO_USERS`, with exactly their claims: the subject, its
 * Practitioner, the roles, the department and the licence (`demoTokenRequest`). Nothing the browser sends becomes a claim but
 * the user's id, which must name one of them.
 */
export async function signInAsDemoUser(options: ChartWardenOptions, id: string, now = Date.now()): Promise<DevSignIn> {
  const user = DEMO_USERS.find((u) => u.id === id);
  if (!user) throw new ConsoleError(ConsoleErrorCode.UnknownDemoUser, `"${id}" is not a demo user: the development sign-in signs only for ${DEMO_USERS.map((u) => u.id).join(', ')}`);
  const minutes = Math.min(DEV_SIGN_IN_MINUTES, options.identity?.maxTokenLifetimeMinutes ?? DEFAULT_MAX_TOKEN_LIFETIME_MINUTES);
  const token = await issueDevToken(options.dataDir, demoTokenRequest(user, `${minutes}m`), options.identity?.maxTokenLifetimeMinutes);
  const [view] = demoUsers().filter((u) => u.id === user.id);
  return { token, expiresAt: new Date(now + minutes * 60_000).toISOString(), user: view };
}

/** Loopback peers: the development sign-in answers only a browser on the server's own machine. */
const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/**
 * Whether a request's peer is this machine. In dev key mode anyone who reaches the sign-in could
 * take any demo user's token, where `npx chartwarden token` needs the data dir's key: a server
 * left in dev key mode on a network must not hand tokens to the network.
 */
export function fromThisMachine(remoteAddress: string | undefined): boolean {
  return remoteAddress !== undefined && LOOPBACK.test(remoteAddress);
}
