import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { QuickJSSyncVariant, QuickJSWASMModule } from 'quickjs-emscripten-core';

/** WebAssembly page size, bytes. */
export const WASM_PAGE_BYTES = 65_536;
/**
 * Pages the QuickJS build declares as its initial memory (16 MiB: static data, the C stack and
 * the first heap). An instance's memory may not start smaller.
 */
export const QUICKJS_INITIAL_PAGES = 256;
/** Pages the QuickJS build allows at most (2 GiB). */
export const QUICKJS_MAX_PAGES = 32_768;

// The ES2023 lib has no WebAssembly declarations; these are the two calls made here.
interface WasmApi {
  compile(bytes: Uint8Array): Promise<object>;
  readonly Memory: new (descriptor: { initial: number; maximum: number }) => object;
  readonly Instance: new (module: object, imports: object) => { readonly exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type Core = typeof import('quickjs-emscripten-core');

interface Loaded {
  readonly core: Core;
  readonly variant: QuickJSSyncVariant;
  /** The compiled code, shared by every instance; `undefined` when it could not be located. */
  readonly compiled: object | undefined;
}

/** Makes QuickJS WebAssembly instances: compiles the code once, instantiates it per sandbox. */
export interface QuickJsLoader {
  /**
   * A fresh, fully separate QuickJS WebAssembly instance (its own linear memory of at most
   * `maxPages` pages, so the memory of one sandbox is bounded by WebAssembly itself too).
   */
  instantiate(maxPages: number): Promise<QuickJSWASMModule>;
  /** Drops the compiled code (a later `instantiate` loads it again). */
  release(): void;
}

const noop = (): void => undefined;

async function load(): Promise<Loaded> {
  // Imported lazily: a host that never creates a QuickJS sandbox never loads the engine.
  const [core, variantModule] = await Promise.all([
    import('quickjs-emscripten-core'),
    import('@jitl/quickjs-wasmfile-release-sync'),
  ]);
  // The SYNC build, deliberately: the asyncify build corrupts its runtime on a second sequential
  // awaited host call (quickjs-emscripten issue #258). Host capabilities return QuickJS promises
  // instead, settled from the host between `executePendingJobs` rounds.
  const variant = variantModule.default;
  let compiled: object | undefined;
  try {
    const path = createRequire(import.meta.url).resolve('@jitl/quickjs-wasmfile-release-sync/wasm');
    compiled = await wasm.compile(await readFile(path));
  } catch {
    // Without the compiled module Emscripten reads and compiles the file for each instance:
    // slower to create, same behaviour.
    compiled = undefined;
  }
  return { core, variant, compiled };
}

/** A {@link QuickJsLoader} that loads the engine on first use. */
export function createQuickJsLoader(): QuickJsLoader {
  let loading: Promise<Loaded> | undefined;
  return {
    async instantiate(maxPages) {
      if (loading === undefined) {
        const attempt = load();
        loading = attempt;
        // A failed load is retried by the next sandbox rather than cached forever.
        attempt.catch(() => {
          if (loading === attempt) loading = undefined;
        });
      }
      const { core, variant, compiled } = await loading;
      const memory = new wasm.Memory({
        initial: QUICKJS_INITIAL_PAGES,
        maximum: Math.min(QUICKJS_MAX_PAGES, Math.max(QUICKJS_INITIAL_PAGES, maxPages)),
      });
      const emscriptenModule = {
        // Emscripten prints aborts (e.g. the JS_FreeRuntime assertion) to stderr; the driver
        // handles them itself, so they must not reach the host's console.
        print: noop,
        printErr: noop,
        // Instantiating the compiled code synchronously takes about a millisecond; the async
        // path waits for a background thread, which a busy host may not schedule for a while.
        ...(compiled === undefined
          ? {}
          : {
              instantiateWasm(imports: object, onSuccess: (instance: object) => void): object {
                const instance = new wasm.Instance(compiled, imports);
                onSuccess(instance);
                return instance.exports;
              },
            }),
      };
      const custom = core.newVariant(variant, {
        wasmMemory: memory as never,
        emscriptenModule: emscriptenModule as never,
      });
      return core.newQuickJSWASMModuleFromVariant(custom);
    },
    release() {
      loading = undefined;
    },
  };
}
