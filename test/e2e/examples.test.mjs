// The example manifests and compose file, parsed and checked for what the agent needs: variable names
// the agent reads (and values it accepts without a warning), the NODE_OPTIONS path matching where the
// tree is copied and its entry file, the image, and the profile type Grafana asks Pyroscope for.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { repoRoot } from '../helpers/spawn-app.mjs';

const require = createRequire(import.meta.url);
const { readConfig } = require('../../dist/config/index.js');

const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
/** The published image, tagged with the package version: bump both together. */
const IMAGE = `ghcr.io/acme/span-profiles-autoinstrumentation:${pkg.version}`;
/** Where the Operator copies the tree, and its entry (the file autoinstrumentation/build.mjs places at the root). */
const OPERATOR_MOUNT = '/otel-auto-instrumentation-nodejs';
const ENTRY = 'autoinstrumentation.js';
const CPU_PROFILE_TYPE = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
/** Variables an example may set besides the agent's own: Node's, and helpers other values reference. */
const NON_AGENT_VARIABLES = new Set(['NODE_OPTIONS', 'PORT']);

const examplePath = (relative) => path.join(repoRoot, 'examples', relative);
const readYaml = (relative) => parseYaml(readFileSync(examplePath(relative), 'utf8'));
const agentVariables = new Set(readConfig({}).entries.map((entry) => entry.name));
const imageUser = Number(readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8').match(/^USER\s+(\d+)/m)?.[1]);

/** Kubernetes env list -> { name: value } (valueFrom entries get the value '<from>'). */
function envObject(list) {
  return Object.fromEntries((list ?? []).map((entry) => [entry.name, entry.valueFrom ? '<from>' : String(entry.value)]));
}

/** Names an env sets that neither the agent nor NON_AGENT_VARIABLES know, minus $(VAR) helpers. */
function unknownVariables(env) {
  const referenced = new Set(
    Object.values(env).flatMap((value) => [...String(value).matchAll(/\$\((\w+)\)/g)].map((m) => m[1])),
  );
  return Object.keys(env).filter(
    (name) => !agentVariables.has(name) && !NON_AGENT_VARIABLES.has(name) && !referenced.has(name),
  );
}

/** The agent's reading of an example's env: no warnings, spans over OTLP, profiles to Pyroscope. */
function assertAgentAccepts(env, where) {
  const { config, warnings } = readConfig(env);
  assert.deepEqual(warnings, [], `${where}: the agent accepts every value`);
  assert.ok(config.traces.exporters.includes('otlp'), `${where}: spans go over OTLP`);
  assert.equal(config.traces.otlpProtocol, 'http/protobuf', `${where}: the Node default protocol`);
  assert.equal(new URL(config.traces.otlpEndpoint).port, '4318', `${where}: OTLP over HTTP is port 4318, not gRPC's 4317`);
  assert.ok(config.pyroscope.serverAddress, `${where}: profiles go to Pyroscope`);
  assert.ok(config.profiling.enabled, `${where}: the profiler runs`);
  assert.equal(env.PYROSCOPE_APPLICATION_NAME, undefined, `${where}: service_name must stay the span's service.name`);
  return config;
}

/** `--require <path>` out of a NODE_OPTIONS value. */
function requiredFile(nodeOptions) {
  const match = String(nodeOptions).match(/--require[= ]\s*("?)(\S+)\1/);
  assert.ok(match, `NODE_OPTIONS ${JSON.stringify(nodeOptions)} has a --require`);
  return match[2];
}

test('the build writes the entry file the examples name', () => {
  assert.ok(existsSync(path.join(repoRoot, 'autoinstrumentation', ENTRY)));
  assert.match(readFileSync(path.join(repoRoot, 'autoinstrumentation', 'build.mjs'), 'utf8'), /ENTRY_FILE = 'autoinstrumentation\.js'/);
});

describe('examples/kubernetes/instrumentation.yaml (OpenTelemetry Operator)', () => {
  const text = readFileSync(examplePath('kubernetes/instrumentation.yaml'), 'utf8');
  const docs = parseAllDocuments(text);
  const instrumentation = docs[0].toJS();

  test('is one Instrumentation whose nodejs image is ours', () => {
    assert.equal(docs.length, 1);
    assert.deepEqual(docs[0].errors, []);
    assert.equal(instrumentation.apiVersion, 'opentelemetry.io/v1alpha1');
    assert.equal(instrumentation.kind, 'Instrumentation');
    assert.equal(instrumentation.spec.nodejs.image, IMAGE);
  });

  test('sets only variables the agent reads, with values it accepts', () => {
    const env = envObject(instrumentation.spec.nodejs.env);
    assert.deepEqual(unknownVariables(env), []);
    assert.ok(env.PYROSCOPE_SERVER_ADDRESS && env.OTEL_EXPORTER_OTLP_ENDPOINT);
    assert.equal(new URL(env.PYROSCOPE_SERVER_ADDRESS).port, '4040');
    assertAgentAccepts({ OTEL_SERVICE_NAME: 'set-by-the-operator', ...env }, 'instrumentation.yaml');
    assert.equal(new URL(instrumentation.spec.exporter.endpoint).port, '4318');
  });

  test('tells how to annotate a pod', () => {
    assert.match(text, /^#\s+instrumentation\.opentelemetry\.io\/inject-nodejs: "true"$/m);
  });
});

describe('examples/kubernetes/deployment-init-container.yaml (plain init container)', () => {
  const deployment = readYaml('kubernetes/deployment-init-container.yaml');
  const pod = deployment.spec.template.spec;
  const [init] = pod.initContainers;
  const [app] = pod.containers;
  const mountOf = (container, volumeName) => container.volumeMounts.find((m) => m.name === volumeName)?.mountPath;

  test('copies the tree from our image into an emptyDir, as the Operator does, as the image user', () => {
    assert.equal(deployment.kind, 'Deployment');
    assert.equal(init.image, IMAGE);
    const volumeName = init.volumeMounts[0].name;
    const volume = pod.volumes.find((v) => v.name === volumeName);
    assert.ok(volume?.emptyDir, 'the copy target is an emptyDir');
    assert.deepEqual(init.command, ['cp', '-r', '/autoinstrumentation/.', mountOf(init, volumeName)]);
    assert.equal(init.securityContext.runAsUser, imageUser, 'the user the image declares');
  });

  test("preloads the copied entry through NODE_OPTIONS, from the app's mount of the same volume", () => {
    const volumeName = init.volumeMounts[0].name;
    const appMount = mountOf(app, volumeName);
    assert.equal(appMount, OPERATOR_MOUNT, 'the Operator path, so both ways look alike to the app');
    const env = envObject(app.env);
    assert.equal(requiredFile(env.NODE_OPTIONS), `${appMount}/${ENTRY}`);
  });

  test('sets only variables the agent reads (and $(VAR) helpers defined before use), with values it accepts', () => {
    const env = envObject(app.env);
    assert.deepEqual(unknownVariables(env), []);
    // Kubernetes expands $(VAR) only from variables listed earlier.
    const names = app.env.map((entry) => entry.name);
    app.env.forEach((entry, index) => {
      for (const [, ref] of String(entry.value ?? '').matchAll(/\$\((\w+)\)/g)) {
        assert.ok(names.indexOf(ref) > -1 && names.indexOf(ref) < index, `${entry.name} uses $(${ref}) after it is defined`);
      }
    });
    const config = assertAgentAccepts(env, 'deployment-init-container.yaml');
    assert.equal(config.serviceName, env.OTEL_SERVICE_NAME);
  });
});

describe('examples/grafana (docker compose: Grafana, Tempo, Pyroscope and a demo app)', () => {
  const composeDir = examplePath('grafana');
  const compose = readYaml('grafana/docker-compose.yaml');
  const { services } = compose;
  const volumeMounts = (service) =>
    (service.volumes ?? []).map((spec) => {
      const [source, target, mode] = spec.split(':');
      return { source, target, mode };
    });
  const datasources = readYaml('grafana/grafana/provisioning/datasources/datasources.yaml').datasources;
  const tempoDs = datasources.find((ds) => ds.type === 'tempo');
  const pyroscopeDs = datasources.find((ds) => ds.type === 'grafana-pyroscope-datasource');

  test('has Grafana, Tempo, Pyroscope and a demo app', () => {
    for (const name of ['grafana', 'tempo', 'pyroscope', 'demo', 'autoinstrumentation']) assert.ok(services[name], name);
  });

  test('builds our image from this repository and copies its tree into the volume the demo preloads from', () => {
    const copier = services.autoinstrumentation;
    assert.ok(existsSync(path.join(composeDir, copier.build.context, copier.build.dockerfile)), 'the Dockerfile');
    assert.equal(path.resolve(composeDir, copier.build.context), path.resolve(repoRoot));
    const [copyVolume] = volumeMounts(copier);
    assert.deepEqual(copier.command, ['cp', '-r', '/autoinstrumentation/.', copyVolume.target]);

    const demo = services.demo;
    assert.equal(demo.depends_on.autoinstrumentation.condition, 'service_completed_successfully');
    const agentMount = volumeMounts(demo).find((m) => m.source === copyVolume.source);
    assert.ok(agentMount, 'the demo mounts the copied tree');
    assert.equal(requiredFile(demo.environment.NODE_OPTIONS), `${agentMount.target}/${ENTRY}`);
    assert.ok(compose.volumes && copyVolume.source in compose.volumes, 'a named volume');
  });

  test("runs a fixture that exists, with agent variables it accepts, sending to the stack's own services", () => {
    const demo = services.demo;
    const appMount = volumeMounts(demo).find((m) => m.target === demo.working_dir);
    const entry = demo.command.at(-1);
    assert.ok(existsSync(path.join(composeDir, appMount.source, entry)), `${appMount.source}/${entry} exists`);
    const env = demo.environment;
    assert.deepEqual(unknownVariables(env), []);
    assertAgentAccepts(env, 'docker-compose demo');
    assert.equal(new URL(env.OTEL_EXPORTER_OTLP_ENDPOINT).hostname, 'tempo');
    assert.equal(new URL(env.PYROSCOPE_SERVER_ADDRESS).host, 'pyroscope:4040');
  });

  test('Tempo receives OTLP over HTTP on the port the demo sends to, and serves Grafana', () => {
    const tempoConfigMount = volumeMounts(services.tempo).find((m) => services.tempo.command.join(' ').includes(m.target));
    const tempo = parseYaml(readFileSync(path.join(composeDir, tempoConfigMount.source), 'utf8'));
    const httpReceiver = tempo.distributor.receivers.otlp.protocols.http.endpoint;
    assert.equal(httpReceiver.split(':').at(-1), new URL(services.demo.environment.OTEL_EXPORTER_OTLP_ENDPOINT).port);
    assert.equal(new URL(tempoDs.url).port, String(tempo.server.http_listen_port));
    assert.equal(new URL(tempoDs.url).hostname, 'tempo');
  });

  test("Grafana's Tempo data source opens a span's profile: the Pyroscope uid, the agent's CPU profile type, service.name -> service_name", () => {
    const provisioningMount = volumeMounts(services.grafana).find((m) => m.target === '/etc/grafana/provisioning');
    assert.ok(existsSync(path.join(composeDir, provisioningMount.source, 'datasources', 'datasources.yaml')));
    assert.equal(new URL(pyroscopeDs.url).host, 'pyroscope:4040');
    const link = tempoDs.jsonData.tracesToProfiles;
    assert.equal(link.datasourceUid, pyroscopeDs.uid);
    assert.equal(link.profileTypeId, CPU_PROFILE_TYPE);
    assert.deepEqual(link.tags, [{ key: 'service.name', value: 'service_name' }]);
    assert.notEqual(link.customQuery, true, 'the default query: {service_name="..."} plus the span selector');
  });
});
