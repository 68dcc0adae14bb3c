/**
 * The naming rules every network follows (this package's README, "Layer names"): `input`, `flatten`, `dropout`,
 * `global_pool`, `logits`; or a place (`stem`, `head`, `stage<i>`, `stage<i>_block<j>`, `stage<i>_transition`,
 * `block<j>`, or none for a network without blocks) followed by roles (`conv1`, `bn`, `relu2`, `pool`, `pad`, `add`,
 * `concat`, `branch<k>`, `shortcut`, `fc<i>`, `sigmoid`, `dropout`), joined by `_`. The network checks test every
 * layer of every network against it.
 */
export const LAYER_NAME =
  /^(input|flatten|dropout|global_pool|logits|(stem|head|stage\d+(_block\d+|_transition)?|block\d+)?(_?(branch\d+|shortcut|conv\d*|bn\d*|relu\d*|sigmoid|pool\d*|pad|add|concat|fc\d+|dropout))+)$/;
