import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { CONFIG_DEFAULTS, CONFIG_VARIABLES, FILE_VARIANTS, SECRET_VARIABLES } from '../../src/config/schema.js';
import type { ConfigVariable } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/load-config.js';
import { loadRouteFiles } from '../../src/router/discovery.js';
import { compileRoutes } from '../../src/router/route-table.js';
import { poolNameFor } from '../../src/worker/pools.js';

// deploy/kubernetes/ parsed as Kubernetes would read it; every field that must agree with the app's config, the
// image or another manifest is checked here. (No cluster, no kubeconform: Debian ships neither.)

const DIR = fileURLToPath(new URL('../../deploy/kubernetes/', import.meta.url));
const ROUTERS = fileURLToPath(new URL('../../routers/', import.meta.url));

/* eslint-disable @typescript-eslint/no-explicit-any -- a manifest's other fields are untyped YAML, read in `it`s */
type Manifest = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; [k: string]: any };

interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  envFrom?: unknown[];
  env?: { name: string }[];
  ports: { name?: string; containerPort: number }[];
  livenessProbe: Probe;
  readinessProbe: Probe;
  startupProbe: Probe;
  securityContext: { readOnlyRootFilesystem?: boolean };
  volumeMounts: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  volumes: { name: string; emptyDir?: object; persistentVolumeClaim?: object; secret?: { secretName: string } }[];
  terminationGracePeriodSeconds: number;
  securityContext: { runAsNonRoot?: boolean };
}
interface DeploymentSpec {
  selector: { matchLabels: Record<string, string> };
  template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
}
interface ServiceSpec {
  selector: Record<string, string>;
  ports: { name?: string; port: number; targetPort: string | number }[];
}

const manifests: Manifest[] = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(DIR, f), 'utf8')).map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${f}: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as Manifest;
    }),
  );

function one(kind: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind);
  expect(found, kind).toHaveLength(1);
  return found[0] as Manifest;
}

const deployment = one('Deployment');
const deploymentSpec = deployment['spec'] as DeploymentSpec;
const pod = deploymentSpec.template.spec;
const container = pod.containers[0] as Container;
const configMap = one('ConfigMap');
const secret = one('Secret');
const service = one('Service');
const serviceSpec = service['spec'] as ServiceSpec;
const config = configMap['data'] as Record<string, string>;
const secretKeys = Object.keys({ ...(secret['data'] as object), ...(secret['stringData'] as object) });
/** The app's value of `name`: the ConfigMap's, else the default. */
const setting = (name: ConfigVariable): string => config[name] ?? String(CONFIG_DEFAULTS[name]);
/** The container port a Service port or probe names (by name or number). */
const containerPort = (port: string | number): number | undefined =>
  typeof port === 'number' ? port : container.ports.find((p) => p.name === port)?.containerPort;

describe('deploy/kubernetes', () => {
  it('has a Deployment, Service, PodDisruptionBudget, ConfigMap, Secret and a KEDA ScaledObject, all in one namespace', () => {
    for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'ConfigMap', 'Secret', 'ScaledObject'])
      one(kind);
    const namespace = one('Namespace').metadata.name;
    for (const m of manifests.filter((x) => x.kind !== 'Namespace'))
      expect(m.metadata.namespace, m.kind).toBe(namespace);
  });

  it('gives the container only variables the config knows, from the ConfigMap', () => {
    expect(container.envFrom).toContainEqual({ configMapRef: { name: configMap.metadata.name } });
    const names = [...Object.keys(config), ...(container.env ?? []).map((e) => e.name)];
    expect(names.filter((n) => !(CONFIG_VARIABLES as readonly string[]).includes(n))).toEqual([]);
  });

  it('keeps every secret in the Secret, read from its mounted files, and none in the ConfigMap or the pod spec', () => {
    for (const name of SECRET_VARIABLES) expect(config[name], name).toBeUndefined();
    expect(JSON.stringify(pod)).not.toMatch(/secretKeyRef/);
    const mount = container.volumeMounts.find(
      (m) => pod.volumes.find((v) => v.name === m.name)?.secret?.secretName === secret.metadata.name,
    );
    expect(mount?.readOnly).toBe(true);
    for (const name of ['MQTT_PASSWORD', 'HEALTH_HTTP_TOKEN', 'REDIS_PASSWORD'] as const) {
      expect(secretKeys, name).toContain(name);
      expect(config[FILE_VARIANTS[name] as string], `${name}_FILE`).toBe(posix.join(mount?.mountPath ?? '?', name));
    }
  });

  it("makes a valid config from the ConfigMap and the Secret's files", () => {
    const dir = mkdtempSync(join(tmpdir(), 'routemq-k8s-'));
    try {
      const values = { ...(secret['stringData'] as Record<string, string>) };
      const env: Record<string, string> = { ...config };
      for (const [key, value] of Object.entries(values)) writeFileSync(join(dir, key), value);
      // The *_FILE paths point into the Secret's mount; here, into the temp dir holding the same keys.
      for (const name of Object.values(FILE_VARIANTS)) if (env[name]) env[name] = join(dir, basename(env[name]));
      const resolved = loadConfig({ env, envFile: false, cwd: dir });
      expect(resolved.mqtt.password?.reveal()).toBe(values['MQTT_PASSWORD']);
      expect(resolved.health.token?.reveal()).toBe(values['HEALTH_HTTP_TOKEN']);
      expect(resolved.health).toMatchObject({ httpEnabled: true, metricsEnabled: true, host: '0.0.0.0' });
      expect(resolved.redis.enabled).toBe(true);
      expect(resolved.routemq.stateDir).toBe(setting('ROUTEMQ_STATE_DIR'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('probes /health and /ready on the health server, listening on every interface of the pod', () => {
    expect(setting('HEALTH_HTTP_ENABLED')).toBe('true');
    expect(setting('HEALTH_HTTP_HOST')).toBe('0.0.0.0');
    const port = Number(setting('HEALTH_HTTP_PORT'));
    expect(container.livenessProbe.httpGet.path).toBe('/health');
    expect(container.readinessProbe.httpGet.path).toBe('/ready');
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe])
      expect(containerPort(probe.httpGet.port)).toBe(port);
  });

  it('waits longer for a stop than the worst-case drain', () => {
    const shutdownMs = Number(setting('ROUTEMQ_SHUTDOWN_TIMEOUT_MS'));
    const worstMs = 2 * shutdownMs + 2 * Number(setting('ROUTEMQ_KILL_TIMEOUT_MS')); // docs/deploy.md
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(shutdownMs);
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(worstMs);
  });

  it('runs as non-root on a read-only root, with the state directory on a volume (persistent without Redis)', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
    const mount = container.volumeMounts.find((m) => m.mountPath === setting('ROUTEMQ_STATE_DIR'));
    expect(mount, 'a volume at ROUTEMQ_STATE_DIR').toBeDefined();
    const volume = pod.volumes.find((v) => v.name === mount?.name);
    // Without Redis, the dead-letter spool lives there and must outlive the pod.
    if (setting('ENABLE_REDIS') !== 'true') expect(volume?.persistentVolumeClaim).toBeDefined();
    else expect(volume?.emptyDir ?? volume?.persistentVolumeClaim).toBeDefined();
    expect(config['ROUTEMQ_INSTANCE_ID'], 'each pod takes its id from its name').toBeUndefined();
  });

  it('selects the pods from the Service and the PodDisruptionBudget, and serves health and metrics', () => {
    const labels = deploymentSpec.template.metadata.labels;
    expect(deploymentSpec.selector.matchLabels).toEqual(labels);
    expect(serviceSpec.selector).toEqual(labels);
    expect(one('PodDisruptionBudget')['spec'].selector.matchLabels).toEqual(labels);
    expect(setting('METRICS_HTTP_ENABLED')).toBe('true');
    const ports = serviceSpec.ports.map((p) => containerPort(p.targetPort));
    expect(ports).toContain(Number(setting('HEALTH_HTTP_PORT')));
  });

  it('scales the Deployment with KEDA on /scaling through the Service, with the health token, on a pool the app has', async () => {
    const scaled = one('ScaledObject');
    expect(scaled['spec'].scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name });
    expect(scaled['spec'].minReplicaCount).toBeLessThanOrEqual(scaled['spec'].maxReplicaCount);
    const trigger = scaled['spec'].triggers[0];
    expect(trigger.type).toBe('metrics-api');
    expect(trigger.metricType).toBe('Value');
    const url = new URL(trigger.metadata.url);
    expect(url.hostname).toBe(`${service.metadata.name}.${service.metadata.namespace}.svc.cluster.local`);
    const servicePort = serviceSpec.ports.find((p) => p.port === Number(url.port));
    expect(containerPort(servicePort?.targetPort ?? -1)).toBe(Number(setting('HEALTH_HTTP_PORT')));
    expect(url.pathname).toBe('/scaling');
    // /scaling is behind HEALTH_HTTP_TOKEN: KEDA sends it as a bearer token.
    expect(trigger.metadata.authMode).toBe('bearer');
    const auth = manifests.find(
      (m) => m.kind === 'TriggerAuthentication' && m.metadata.name === trigger.authenticationRef.name,
    );
    expect(auth?.['spec'].secretTargetRef).toContainEqual({
      parameter: 'token',
      name: secret.metadata.name,
      key: 'HEALTH_HTTP_TOKEN',
    });
    // The pool named in valueLocation is one of the sample app's pools.
    const table = compileRoutes(await loadRouteFiles(ROUTERS), { defaultGroup: setting('MQTT_GROUP_NAME') });
    const pools = table.routes.filter((r) => r.shared).map((r) => poolNameFor(r));
    const [, pool, ...rest] = (trigger.metadata.valueLocation as string).split('.');
    expect(pools).toContain(pool);
    expect(rest).toEqual(['load', 'busyRatio']);
  });
});
