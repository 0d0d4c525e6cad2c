/**
 * Loads a module when a command first needs it (the Temporal SDK, webpack and ssh2 take a second to load, and
 * `kk --help` or `kk config` never need them). `require`, not `import()`: TypeScript compiles both to require for
 * dist/, but tsx's CommonJS hook, which runs kk from its sources, hands `import()` to Node's ESM loader, which does
 * not resolve extension-less TypeScript paths. The `require` is written at the call site so it resolves from there.
 */
export function lazy<T>(load: () => unknown): Promise<T> {
  return Promise.resolve().then(() => load() as T);
}
