import { parseDocument } from 'yaml';
import type { HarborSettings } from '../types';
import type { HarborLayout } from './layout';

/** Harbor's shipped defaults: kk replaces both, and a test checks neither reaches a host. */
export const HARBOR_DEFAULT_PASSWORDS = ['Harbor12345', 'root123'];

/**
 * harbor.yml from the installer's own harbor.yml.tmpl: every key and comment of the template kept, only what kk
 * decides set (hostname, ports, certificate and key, admin and database passwords, data_volume, and the CA bundle that
 * makes peers' certificates trusted for replication). plain_http drops the https block, as Harbor documents.
 */
export function renderHarborYml(template: string, settings: HarborSettings, layout: HarborLayout, plainHttp: boolean): string {
  const doc = parseDocument(template);
  if (doc.errors.length) throw new Error(`harbor.yml.tmpl does not parse: ${doc.errors[0]!.message}`);
  doc.set('hostname', settings.hostname);
  doc.setIn(['http', 'port'], settings.httpPort);
  if (plainHttp) doc.delete('https');
  else {
    doc.setIn(['https', 'port'], settings.httpsPort);
    doc.setIn(['https', 'certificate'], `${layout.ssl}/server.crt`);
    doc.setIn(['https', 'private_key'], `${layout.ssl}/server.key`);
  }
  doc.set('harbor_admin_password', settings.adminPassword);
  doc.setIn(['database', 'password'], settings.databasePassword);
  doc.set('data_volume', settings.dataDir);
  doc.setIn(['storage_service', 'ca_bundle'], `${layout.ssl}/ca.crt`);
  return doc.toString({ lineWidth: 0 });
}
