import { fastifyFrameworkErrors } from '../common/http-platform.js';
import { answerClientError } from './header-limit.js';

/**
 * Fastify's server options for ChartWarden on Fastify (decision 0021): its server, its tests, and
 * a host's app that embeds the module on Fastify (`new FastifyAdapter(FASTIFY_SERVER_OPTIONS)`).
 * Routes are matched as Express matches them, so a path answers the same on either platform.
 * - `trustProxy: 'loopback'`: the client's address and scheme from a proxy on this machine
 *   only, as the server's Express `trust proxy` was (the address the audit trail records, R-20).
 * - `ignoreTrailingSlash`: `/fhir/Patient/` is `/fhir/Patient`, as Express 5 routes by default.
 * - `maxParamLength`: find-my-way gives up on a parameter longer than 100 characters (the route
 *   then does not match); Express has no such limit, and an over-long id must reach the id
 *   check and its 400, not be a 404. The request line is bounded by node's header limit.
 * - `clientErrorHandler`: what node's parser refuses (headers over its limit, a request that is
 *   not HTTP) is answered with an OperationOutcome (`answerClientError`), as on Express, where
 *   `HeaderLimit` installs the same; Fastify would answer its own JSON.
 * - `frameworkErrors`: a URL Fastify's router cannot decode (`%zz`) is refused by the module's
 *   input guard, with its OperationOutcome and audit entry, as on Express, where the
 *   guard sees it before any router (`answerBadUrls`).
 */
export const FASTIFY_SERVER_OPTIONS = {
  trustProxy: 'loopback',
  routerOptions: { ignoreTrailingSlash: true, maxParamLength: 16 * 1024 },
  clientErrorHandler: answerClientError,
  frameworkErrors: fastifyFrameworkErrors,
} as const;
