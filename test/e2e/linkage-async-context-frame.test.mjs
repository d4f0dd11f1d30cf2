// Span linkage on the pinned Node 24: the context follows async continuations through
// AsyncContextFrame. See helpers/linkage-suite.mjs for what is checked.
import { defineLinkageSuite } from '../helpers/linkage-suite.mjs';

defineLinkageSuite({ major: 24, binding: 'async-context-frame' });
