import { kustomize, validateStrictly, validateAsShipped, KUBERNETES_DIR } from './helpers/kubernetes.js';
for (const d of ['fleet', 'examples/fleet-demo', 'examples/sidecar-demo']) {
  for (const o of await kustomize(`${KUBERNETES_DIR}/${d}`)) {
    const p = await validateStrictly(o);
    console.log(d, o.kind, o.metadata.name, p.length ? p : 'ok');
  }
}
const objs = await kustomize(`${KUBERNETES_DIR}/examples/fleet-demo`);
const dep = structuredClone(objs.find((o) => o.kind === 'Deployment')!) as any;
dep.spec.template.spec.containers[0].imagePullPolicyy = 'Always';
console.log('typo shipped:', await validateAsShipped(dep), 'strict:', await validateStrictly(dep));
