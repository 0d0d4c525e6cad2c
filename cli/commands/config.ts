import { stringify } from 'yaml';
import { registryEndpoint } from '../../config/derived';
import { groupHosts, type ResolvedConfig } from '../../config/load';
import { maskHost, maskVariables } from '../../config/mask';

/** `kk config`: the resolved variables (secrets masked); JSON keys are the canonical variable names. */
export function configCommand(config: ResolvedConfig, output: 'text' | 'json'): number {
  const vars = maskVariables(config.vars);
  if (output === 'json') {
    process.stdout.write(`${JSON.stringify(vars, null, 2)}\n`);
    return 0;
  }
  const endpoint = registryEndpoint(config.vars, groupHosts(config, 'image_registry'));
  const text = stringify({
    variables: vars,
    derived: { registry_endpoint: endpoint.address ?? null, scheme: endpoint.scheme, http_port: endpoint.httpPort, https_port: endpoint.httpsPort },
    hosts: config.hosts.map(maskHost),
    groups: config.groups,
  });
  process.stdout.write(text);
  if (config.generatedPasswordFile) process.stdout.write(`# image_registry.auth.password was generated; it is kept in ${config.generatedPasswordFile}\n`);
  return 0;
}
