// Span linkage on Node 22 without flags: no AsyncContextFrame, so the agent follows
// continuations with an async_hooks before-hook. See helpers/linkage-suite.mjs for what is checked.
import { defineLinkageSuite } from '../helpers/linkage-suite.mjs';

defineLinkageSuite({ major: 22, binding: 'async-hooks' });
