import { Permission } from '../fhir/route-permission.js';
import type { Action } from '../policy/domain/actions.js';
import { ReleaseError, ReleaseErrorCode } from './release.errors.js';

/**
 * A route of the record room's copy requests (R-30…R-34): the policy's workflow rule `action`
 * on `CopyRequest` (`request` to take a request's steps, `approve` to decide it, `list` to read
 * requests and their copies), decided before the handler runs; anyone else gets 403
 * `copy.forbidden`.
 */
export function RecordRoom(action: Extract<Action, 'request' | 'approve' | 'list'>): MethodDecorator {
  return Permission.workflow(
    action,
    'CopyRequest',
    () => new ReleaseError(ReleaseErrorCode.Forbidden, `Copy requests are handled by the record room (policy: ${action} on CopyRequest)`),
  );
}
