/**
 * One edit-window rule of the policy: these roles may change these document types for
 * this long. The policy file states the rules (`governance.editWindows`); governance applies them.
 */
export interface EditWindowRule {
  roles: readonly string[];
  /** Document type codes, or `*` for every document (typed or not). */
  types: readonly string[] | '*';
  hours: number;
  /** What the window runs from: the document's creation, or its signing (first final version). */
  from: 'created' | 'signed';
}
