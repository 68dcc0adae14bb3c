import type { IdxArray } from "./idx.js";

/** Class names of Fashion-MNIST, in label order. */
export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

/** Images and labels kept as bytes: 60,000 28×28 images are 47 MB as uint8 (188 MB as float32). */
export interface ImageSet {
  /** `count × height × width` grey values 0–255, row-major. */
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: number;
  width: number;
}

/** The four files of Fashion-MNIST, by role (each also found with `.gz`). */
export const FASHION_MNIST_FILES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

/**
 * An image set from an IDX images file and its labels file, checked against each other: 3 and 1 dimensions,
 * as many labels as images, every label a class. `imagesFile` and `labelsFile` name the inputs in errors.
 */
export function toImageSet(imagesFile: string, images: IdxArray, labelsFile: string, labels: IdxArray): ImageSet {
  if (images.dims.length !== 3) {
    throw new Error(`${imagesFile}: expected 3 dimensions (count × height × width), header has ${images.dims.length}`);
  }
  if (labels.dims.length !== 1) {
    throw new Error(`${labelsFile}: expected 1 dimension (count), header has ${labels.dims.length}`);
  }
  const [count, height, width] = images.dims as [number, number, number];
  if (labels.dims[0] !== count) {
    throw new Error(
      `${imagesFile} has ${count} images but ${labelsFile} has ${labels.dims[0]} labels; the two files must come from the same release`,
    );
  }
  const classCount = FASHION_MNIST_CLASSES.length;
  const bad = labels.data.findIndex((l) => l >= classCount);
  if (bad >= 0) {
    throw new Error(`${labelsFile}: label ${labels.data[bad]} at index ${bad} is outside 0–${classCount - 1}`);
  }
  return { images: images.data, labels: labels.data, count, height, width };
}

/**
 * Fashion-MNIST's training and test sets from its four files, read all at once by `read`: given a file's name
 * without `.gz` (FASHION_MNIST_FILES), it returns the name errors should use (its path or URL) and the parsed IDX
 * array. Each images/labels pair is checked by toImageSet. The Node loader reads a directory with it, the
 * playground a server's URLs or the files a user picked.
 */
export async function readImageSets(
  read: (name: string) => Promise<{ name: string; idx: IdxArray }>,
): Promise<{ train: ImageSet; test: ImageSet }> {
  const { trainImages, trainLabels, testImages, testLabels } = FASHION_MNIST_FILES;
  const [trImages, trLabels, teImages, teLabels] = await Promise.all(
    [trainImages, trainLabels, testImages, testLabels].map(read),
  );
  return {
    train: toImageSet(trImages!.name, trImages!.idx, trLabels!.name, trLabels!.idx),
    test: toImageSet(teImages!.name, teImages!.idx, teLabels!.name, teLabels!.idx),
  };
}

/** The first `count` examples of a set (views into the same bytes, no copy). */
export function takeImages(set: ImageSet, count: number): ImageSet {
  if (!Number.isInteger(count) || count < 1) throw new Error(`limit must be a positive integer, got ${count}`);
  const n = Math.min(count, set.count);
  return {
    images: set.images.subarray(0, n * set.height * set.width),
    labels: set.labels.subarray(0, n),
    count: n,
    height: set.height,
    width: set.width,
  };
}
