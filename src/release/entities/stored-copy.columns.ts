/**
 * Moved to `copies/` (both release and disputes embed it; neither imports the other). Kept
 * here only until `disputes/entities` imports it from there; release itself does not use this path.
 */
export { StoredCopyColumns } from '../../copies/stored-copy.columns.js';
