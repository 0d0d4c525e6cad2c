/** Every workflow the worker runs. Deterministic code only: no Node built-ins, no I/O; side effects are activities. */
export { factsWorkflow, hostFactsWorkflow } from './facts';
export { precheckWorkflow, hostProbeWorkflow } from './precheck';
export { initRegistryWorkflow, keepalivedNodeWorkflow, registryNodeWorkflow } from './init-registry';
export { pushImagesWorkflow } from './push-images';
export { createClusterWorkflow, clusterNodeWorkflow } from './create-cluster';
export { deleteRegistryWorkflow, deleteRegistryNodeWorkflow } from './delete-registry';
