/**
 * The Kubernetes side of the tests: `kubectl kustomize` renders deploy/kubernetes/, and every
 * object is validated offline against the API schemas of kubernetes-models (Kubernetes),
 * @kubernetes-models/keda and @kubernetes-models/prometheus-operator.
 *
 * Their validators check types, enums and required fields, but they let unknown fields
 * through (`imagePullPolicyy: Always` passes; the API server would refuse it, or drop it
 * without a word). So each validation runs on a recording copy of the object: every field
 * the schema knows is read by the validator; a field of an object whose schema lists its
 * properties that the validator never read is unknown to the schema, and is reported.
 * Objects the schema takes whole (a map, free-form metadata) are enumerated by the
 * validator, and none of their keys is reported.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { REPO } from './fluent-bit.js';

const run = promisify(execFile);

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** `kubectl kustomize DIR`, parsed. */
export async function kustomize(dir: string): Promise<K8sObject[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir], { maxBuffer: 64 * 1024 * 1024 });
  return parseAllDocuments(stdout).map((d) => {
    if (d.errors.length > 0) throw new Error(`kubectl kustomize ${dir}: ${d.errors[0]!.message}`);
    return d.toJS() as K8sObject;
  });
}

type AjvValidate = ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; keyword: string; params: unknown }> | null };

/** Where each API group's schemas live, by package and the prefix of their file names. */
const SCHEMAS: Record<string, { pkg: string; prefix: string }> = {
  v1: { pkg: 'kubernetes-models', prefix: 'IoK8sApiCoreV1' },
  'apps/v1': { pkg: 'kubernetes-models', prefix: 'IoK8sApiAppsV1' },
  'batch/v1': { pkg: 'kubernetes-models', prefix: 'IoK8sApiBatchV1' },
  'networking.k8s.io/v1': { pkg: 'kubernetes-models', prefix: 'IoK8sApiNetworkingV1' },
  'policy/v1': { pkg: 'kubernetes-models', prefix: 'IoK8sApiPolicyV1' },
  'keda.sh/v1alpha1': { pkg: '@kubernetes-models/keda', prefix: 'KedaShV1alpha1' },
  'monitoring.coreos.com/v1': { pkg: '@kubernetes-models/prometheus-operator', prefix: 'MonitoringCoreosComV1' },
};

const loaded = new Map<string, AjvValidate>();

/** The packages' own validator for an object's kind (an error when there is none: nothing goes unvalidated). */
export async function schemaValidator(apiVersion: string, kind: string): Promise<AjvValidate> {
  const where = SCHEMAS[apiVersion];
  if (!where) throw new Error(`no schema for ${apiVersion} (add its package to test/helpers/kubernetes.ts)`);
  const base = join(REPO, 'node_modules', where.pkg, '_schemas', `${where.prefix}${kind}`);
  const file = existsSync(`${base}.mjs`) ? `${base}.mjs` : `${base}.js`;
  if (!existsSync(file)) throw new Error(`no schema for ${apiVersion} ${kind} in ${where.pkg}`);
  let v = loaded.get(file);
  if (!v) {
    const mod = (await import(pathToFileURL(file).href)) as { validate?: AjvValidate; default?: { validate: AjvValidate } };
    v = mod.validate ?? mod.default!.validate;
    loaded.set(file, v);
  }
  return v;
}

interface Seen {
  path: string;
  target: Record<string, unknown>;
  read: Set<string>;
  enumerated: boolean;
}

/** A copy of `value` whose every object records which of its fields were read. */
function recording(value: unknown, path: string, seen: Seen[]): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    const items = value.map((v, i) => recording(v, `${path}[${i}]`, seen));
    return items;
  }
  const target = value as Record<string, unknown>;
  const s: Seen = { path, target, read: new Set(), enumerated: false };
  seen.push(s);
  const children = new Map<string, unknown>();
  return new Proxy(target, {
    get(obj, key, receiver) {
      if (typeof key !== 'string') return Reflect.get(obj, key, receiver);
      s.read.add(key);
      if (!Object.hasOwn(obj, key)) return undefined;
      if (!children.has(key)) children.set(key, recording(obj[key], path ? `${path}.${key}` : key, seen));
      return children.get(key);
    },
    has(obj, key) {
      if (typeof key === 'string') s.read.add(key);
      return Reflect.has(obj, key);
    },
    ownKeys(obj) {
      s.enumerated = true;
      return Reflect.ownKeys(obj);
    },
  });
}

/** The package validator's findings plus the fields it does not know, as "path: problem" lines. */
export async function validateStrictly(obj: K8sObject): Promise<string[]> {
  const validate = await schemaValidator(obj.apiVersion, obj.kind);
  const seen: Seen[] = [];
  const ok = validate(recording(structuredClone(obj), '', seen));
  const problems = ok ? [] : (validate.errors ?? []).map((e) => `${e.instancePath || '/'}: ${e.keyword} ${JSON.stringify(e.params)}`);
  for (const s of seen) {
    if (s.enumerated || s.read.size === 0) continue;
    for (const key of Object.keys(s.target)) if (!s.read.has(key)) problems.push(`${s.path ? `${s.path}.` : ''}${key}: not a field of the schema`);
  }
  return problems;
}

/** The package validator alone, as the packages ship it. */
export async function validateAsShipped(obj: K8sObject): Promise<boolean> {
  return (await schemaValidator(obj.apiVersion, obj.kind))(structuredClone(obj));
}

export const KUBERNETES_DIR = join(REPO, 'deploy', 'kubernetes');
