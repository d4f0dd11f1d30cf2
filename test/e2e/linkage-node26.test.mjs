// Span linkage on Node 26 (AsyncContextFrame, the newest supported major and its own
// @datadog/pprof prebuild). See helpers/linkage-suite.mjs for what is checked.
import { defineLinkageSuite } from '../helpers/linkage-suite.mjs';

defineLinkageSuite({ major: 26, binding: 'async-context-frame' });
