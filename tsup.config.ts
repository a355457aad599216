import { defineConfig } from 'tsup'

export default defineConfig({
  entry: {
    'cli/rekey': 'src/cli/rekey.ts',
    'cli/apiauth': 'src/cli/apiauth.ts',
    'cli/envault': 'src/cli/envault.ts',
    index: 'src/index.ts',
    'sdk/index': 'src/sdk/index.ts',
  },
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  splitting: true,
  sourcemap: false,
  clean: true,
  // Type declarations for the library entries (rekey, rekey/sdk); the bins need none.
  dts: { entry: { index: 'src/index.ts', 'sdk/index': 'src/sdk/index.ts' } },
  // Dependencies stay external: they are loaded lazily by the command that needs them.
  skipNodeModulesBundle: true,
})
