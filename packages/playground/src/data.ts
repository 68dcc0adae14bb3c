import { FASHION_MNIST_FILES, type ImageSet, readIdxStream, readImageSets } from "@convnets/core/browser";

export interface PageData {
  train: ImageSet;
  test: ImageSet;
  /** Where the files came from, for the page. */
  source: string;
}

/** A file the page reads: its name (used in errors) and its bytes. */
interface Source {
  name: string;
  open(): Promise<ReadableStream<Uint8Array>>;
}

/** Reads the four files: IDX parsed by core (gzip unzipped with DecompressionStream), checked as the CLI checks them. */
function readFour(find: (name: string) => Source): Promise<Omit<PageData, "source">> {
  return readImageSets(async (name) => {
    const source = find(name);
    return { name: source.name, idx: await readIdxStream(await source.open(), source.name) };
  });
}

/** The four .gz files from this page's own server (vite.config.ts serves them from the dataset directory). */
export function fetchServedData(base = "data/fashion-mnist/"): Promise<PageData> {
  return readFour((name) => {
    const url = `${base}${name}.gz`;
    return {
      name: url,
      async open() {
        const response = await fetch(url);
        if (!response.ok || !response.body) {
          const text = await response.text().catch(() => "");
          throw new Error(`${url}: HTTP ${response.status}${text ? ` — ${text}` : ""}`);
        }
        return response.body;
      },
    };
  }).then((data) => ({ ...data, source: `served from ${base}` }));
}

/** The four files chosen by the user (each gzip'd or raw, found by its name). */
export function readChosenFiles(files: readonly File[]): Promise<PageData> {
  const names = Object.values(FASHION_MNIST_FILES);
  const missing = names.filter((n) => !files.some((f) => f.name === n || f.name === `${n}.gz`));
  if (missing.length > 0) {
    return Promise.reject(
      new Error(
        `the chosen files lack ${missing.join(", ")} (each as .gz or raw); choose all four Fashion-MNIST files`,
      ),
    );
  }
  return readFour((name) => {
    const file = files.find((f) => f.name === `${name}.gz`) ?? files.find((f) => f.name === name)!;
    return { name: file.name, open: async () => file.stream() as ReadableStream<Uint8Array> };
  }).then((data) => ({ ...data, source: `chosen files (${files.map((f) => f.name).join(", ")})` }));
}
