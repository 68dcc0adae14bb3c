import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { readIdx } from "./idx-file.js";
import { FASHION_MNIST_CLASSES, FASHION_MNIST_FILES as FILES, type ImageSet, readImageSets } from "./image-set.js";

export { FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, type ImageSet, readImageSets, takeImages } from "./image-set.js";

export interface FashionMnist {
  train: ImageSet;
  test: ImageSet;
  classNames: readonly string[];
  /** Directory the files were read from. */
  dir: string;
}

export interface LoadFashionMnistOptions {
  /** Read from this directory only. */
  dir?: string;
  /** Download into the cache when not found. Default true unless `CONVNETS_OFFLINE=1`. */
  download?: boolean;
  /** Cache directory for downloads. Default `$XDG_CACHE_HOME/convnets/fashion-mnist` or `~/.cache/...`. */
  cacheDir?: string;
  /** The system-wide copy, searched last. Default Debian's `/usr/share/datasets/fashion-mnist`. */
  systemDir?: string;
  /** Download progress. */
  onProgress?: (file: string, receivedBytes: number, totalBytes: number | undefined) => void;
}

/** The official mirror of zalandoresearch/fashion-mnist. */
export const FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";

/**
 * SHA-256 of each file's *uncompressed* IDX bytes. Checking the content rather than the .gz lets the
 * same table verify the official downloads and re-compressed copies (Debian's package recompresses them).
 */
export const FASHION_MNIST_SHA256: Record<string, string> = {
  [FILES.trainImages]: "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
  [FILES.trainLabels]: "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
  [FILES.testImages]: "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
  [FILES.testLabels]: "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
};

export const DEBIAN_FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist";

export function defaultCacheDir(): string {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "convnets", "fashion-mnist");
}

/** Where to look, in order: explicit dir, `FASHION_MNIST_DIR`, the cache, Debian's package. */
export function candidateDirs(options: LoadFashionMnistOptions = {}): string[] {
  if (options.dir) return [options.dir];
  const dirs = [
    process.env.FASHION_MNIST_DIR,
    options.cacheDir ?? defaultCacheDir(),
    options.systemDir ?? DEBIAN_FASHION_MNIST_DIR,
  ];
  return dirs.filter((d): d is string => Boolean(d));
}

/** Path of `name` in `dir`, gzip'd or raw, or undefined. */
function findFile(dir: string, name: string): string | undefined {
  for (const candidate of [`${name}.gz`, name]) {
    const path = join(dir, candidate);
    if (existsSync(path)) return path;
  }
  return undefined;
}

function missingFiles(dir: string): string[] {
  return Object.values(FILES).filter((name) => !findFile(dir, name));
}

const HOW_TO_GET =
  "Get Fashion-MNIST one of these ways: `apt-get install dataset-fashion-mnist` (Debian/Ubuntu, offline; files in " +
  `${DEBIAN_FASHION_MNIST_DIR}), or download the four .gz files from ${FASHION_MNIST_URL} (or github.com/zalandoresearch/fashion-mnist) ` +
  "into a directory and set FASHION_MNIST_DIR to it, or run once with internet access so convnets downloads them into its cache.";

/**
 * Loads Fashion-MNIST from the first place it is found, downloading it into the cache if allowed.
 * A directory named explicitly (`options.dir`, else `FASHION_MNIST_DIR`) is the only place looked at: when it
 * is missing, incomplete or damaged the error names it and the file, rather than quietly reading another copy.
 */
export async function loadFashionMnist(options: LoadFashionMnistOptions = {}): Promise<FashionMnist> {
  const fromEnv = !options.dir && Boolean(process.env.FASHION_MNIST_DIR);
  const explicit = options.dir || process.env.FASHION_MNIST_DIR;
  if (explicit) {
    const what = fromEnv
      ? `Fashion-MNIST directory ${explicit} (from FASHION_MNIST_DIR)`
      : `Fashion-MNIST directory ${explicit}`;
    const fix = fromEnv
      ? " Point FASHION_MNIST_DIR at a complete copy, or unset it to use the cache or Debian's package."
      : "";
    if (!existsSync(explicit)) throw new Error(`${what} does not exist.${fix} ${HOW_TO_GET}`);
    const missing = missingFiles(explicit);
    if (missing.length > 0) {
      const entries = await readdir(explicit);
      const lacks = entries.length === 0 ? "is empty" : `lacks ${missing.map((m) => `${m}.gz`).join(", ")}`;
      throw new Error(`${what} ${lacks}.${fix} ${HOW_TO_GET}`);
    }
    try {
      return await readDir(explicit);
    } catch (err) {
      // A damaged file's message names it (IdxFormatError); say where the directory came from.
      if (!fromEnv) throw err;
      throw new Error(`${(err as Error).message} (FASHION_MNIST_DIR=${explicit}).${fix}`);
    }
  }
  for (const dir of candidateDirs(options)) {
    if (existsSync(dir) && missingFiles(dir).length === 0) return readDir(dir);
  }
  const download = options.download ?? process.env.CONVNETS_OFFLINE !== "1";
  const cacheDir = options.cacheDir ?? defaultCacheDir();
  if (!download) {
    throw new Error(`Fashion-MNIST not found in ${candidateDirs(options).join(", ")}. ${HOW_TO_GET}`);
  }
  try {
    await downloadFashionMnist(cacheDir, options.onProgress);
  } catch (err) {
    throw new Error(
      `Fashion-MNIST not found in ${candidateDirs(options).join(", ")} and the download failed (${(err as Error).message}). ${HOW_TO_GET}`,
    );
  }
  return readDir(cacheDir);
}

async function readDir(dir: string): Promise<FashionMnist> {
  const sets = await readImageSets(async (name) => {
    const file = findFile(dir, name)!;
    return { name: file, idx: await readIdx(file) };
  });
  return { ...sets, classNames: FASHION_MNIST_CLASSES, dir };
}

/** Downloads the four files into `dir`, checking each one's SHA-256 and renaming it into place only when it matches. */
export async function downloadFashionMnist(
  dir: string,
  onProgress?: LoadFashionMnistOptions["onProgress"],
): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of Object.values(FILES)) {
    if (findFile(dir, name)) continue;
    const file = `${name}.gz`;
    const response = await fetch(FASHION_MNIST_URL + file);
    if (!response.ok || !response.body) throw new Error(`GET ${FASHION_MNIST_URL + file}: HTTP ${response.status}`);
    const total = Number(response.headers.get("content-length")) || undefined;
    const chunks: Uint8Array[] = [];
    let received = 0;
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      chunks.push(chunk);
      received += chunk.length;
      onProgress?.(file, received, total);
    }
    const body = Buffer.concat(chunks);
    const digest = createHash("sha256").update(gunzipSync(body)).digest("hex");
    if (digest !== FASHION_MNIST_SHA256[name]) {
      throw new Error(
        `${file}: SHA-256 of the downloaded content is ${digest}, expected ${FASHION_MNIST_SHA256[name]}`,
      );
    }
    const tmp = join(dir, `.${file}.${process.pid}.tmp`);
    try {
      await writeFile(tmp, body);
      await rename(tmp, join(dir, file));
    } finally {
      await rm(tmp, { force: true });
    }
  }
}
