import 'reflect-metadata';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import { isIP } from 'node:net';
import * as path from 'node:path';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

const ALG = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: 2048 } as const;
const TEN_YEARS_MS = 10 * 365 * 24 * 3600 * 1000;

/** KubeKey's file names under <work_dir>/pki. */
export const PKI_FILES = {
  caCert: 'root.crt',
  caKey: 'root.key',
  serverCert: 'image_registry.crt',
  serverKey: 'image_registry.key',
  clientCert: 'image-registry-client.crt',
  clientKey: 'image-registry-client.key',
} as const;

export interface RegistryPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** The SANs of the server certificate, as `DNS:x` / `IP:x`, sorted. */
  sans: string[];
  /** Whether this call (re)generated the server certificate. */
  regenerated: boolean;
}

function pem(label: string, der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

function derOf(pemText: string): Buffer {
  return Buffer.from(pemText.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** Normalised SAN entries: `localhost`, `10.0.0.1`, `reg.local` become `DNS:…` / `IP:…`, de-duplicated and sorted. */
export function sanSet(names: readonly string[]): string[] {
  return [...new Set(names.filter(Boolean).map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n.toLowerCase()}`)))].sort();
}

function sansOf(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(/,\s*/)
    .filter(Boolean)
    .map((s) => s.replace(/^IP Address:/, 'IP:'))
    .sort();
}

function write(file: string, text: string, mode: number): void {
  fs.writeFileSync(`${file}.tmp`, text, { mode });
  fs.renameSync(`${file}.tmp`, file);
  fs.chmodSync(file, mode);
}

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

async function importKey(pemText: string): Promise<CryptoKey> {
  return (await webcrypto.subtle.importKey('pkcs8', derOf(pemText), ALG, true, ['sign'])) as unknown as CryptoKey;
}

async function exportKey(key: CryptoKey): Promise<string> {
  return pem('PRIVATE KEY', (await webcrypto.subtle.exportKey('pkcs8', key)) as ArrayBuffer);
}

const serial = () => `01${randomBytes(15).toString('hex')}`;

function valid(cert: X509Certificate): boolean {
  const now = Date.now();
  return new Date(cert.validFrom).getTime() <= now && now < new Date(cert.validTo).getTime() - 24 * 3600 * 1000;
}

/** The root CA: made once and reused while it is valid (a bring-your-own root.crt/root.key is used as is). */
async function ensureCa(dir: string): Promise<{ cert: string; key: string; parsed: X509Certificate; privateKey: CryptoKey }> {
  const certFile = path.join(dir, PKI_FILES.caCert);
  const keyFile = path.join(dir, PKI_FILES.caKey);
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    const cert = fs.readFileSync(certFile, 'utf8');
    const key = fs.readFileSync(keyFile, 'utf8');
    const parsed = new X509Certificate(cert);
    if (parsed.ca && valid(parsed)) return { cert, key, parsed, privateKey: await importKey(key) };
  }
  const keys = await newKeys();
  const now = new Date();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: 'CN=kk-registry root CA, O=kubekey',
    notBefore: now,
    notAfter: new Date(now.getTime() + TEN_YEARS_MS),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const cert = ca.toString('pem') + '\n';
  const key = await exportKey(keys.privateKey);
  write(keyFile, key, 0o600);
  write(certFile, cert, 0o644);
  return { cert, key, parsed: new X509Certificate(cert), privateKey: keys.privateKey };
}

async function issue(
  ca: { cert: string; privateKey: CryptoKey },
  subject: string,
  usage: x509.ExtendedKeyUsage[],
  sans: string[],
): Promise<{ cert: string; key: string }> {
  const keys = await newKeys();
  const caCert = new x509.X509Certificate(ca.cert);
  const now = new Date();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject,
    issuer: caCert.subject,
    notBefore: new Date(now.getTime() - 60_000),
    notAfter: new Date(Math.min(now.getTime() + TEN_YEARS_MS, caCert.notAfter.getTime())),
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension(usage),
      ...(sans.length
        ? [new x509.SubjectAlternativeNameExtension(sans.map((s) => (s.startsWith('IP:') ? { type: 'ip' as const, value: s.slice(3) } : { type: 'dns' as const, value: s.slice(4) })))]
        : []),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
    ],
  });
  return { cert: cert.toString('pem') + '\n', key: await exportKey(keys.privateKey) };
}

/** A leaf is kept while it is valid, issued by this CA, and (for the server) covers exactly the wanted SANs. */
function reusable(certFile: string, keyFile: string, ca: X509Certificate, sans?: string[]): boolean {
  if (!fs.existsSync(certFile) || !fs.existsSync(keyFile)) return false;
  const cert = new X509Certificate(fs.readFileSync(certFile));
  if (!valid(cert) || !cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return false;
  return sans === undefined || JSON.stringify(sansOf(cert)) === JSON.stringify(sans);
}

/**
 * The registry's PKI in <work_dir>/pki, made with WebCrypto (no openssl on the user's machine): a root CA made once,
 * a server certificate whose SANs are exactly `names` (regenerated when that set changes), and a client certificate.
 */
export async function ensureRegistryPki(workdir: string, names: readonly string[]): Promise<RegistryPki> {
  const dir = path.join(workdir, 'pki');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = await ensureCa(dir);
  const sans = sanSet(names);
  const f = (name: keyof typeof PKI_FILES) => path.join(dir, PKI_FILES[name]);
  let regenerated = false;
  if (!reusable(f('serverCert'), f('serverKey'), ca.parsed, sans)) {
    const server = await issue(ca, 'CN=image_registry, O=kubekey', [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], sans);
    write(f('serverKey'), server.key, 0o600);
    write(f('serverCert'), server.cert, 0o644);
    regenerated = true;
  }
  if (!reusable(f('clientCert'), f('clientKey'), ca.parsed)) {
    const client = await issue(ca, 'CN=image-registry-client, O=kubekey', [x509.ExtendedKeyUsage.clientAuth], []);
    write(f('clientKey'), client.key, 0o600);
    write(f('clientCert'), client.cert, 0o644);
  }
  const read = (name: keyof typeof PKI_FILES) => fs.readFileSync(f(name), 'utf8');
  return { dir, caCert: ca.cert, serverCert: read('serverCert'), serverKey: read('serverKey'), clientCert: read('clientCert'), clientKey: read('clientKey'), sans, regenerated };
}
