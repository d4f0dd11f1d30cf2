// Fastify 5 gets Fastify's own OpenTelemetry instrumentation (@fastify/otel, registered on every
// instance through Fastify's diagnostics channel, no code in the app): root spans named by route with
// http.route, and the same linkage, precision and recall as the Express fixture. See helpers/linkage-suite.mjs.
import { defineLinkageSuite } from '../helpers/linkage-suite.mjs';
import { fixturePath } from '../helpers/spawn-app.mjs';

defineLinkageSuite({ major: 24, binding: 'async-context-frame', app: fixturePath('fastify-app/index.js'), framework: 'Fastify 5' });
