import type { ImageSet } from "@convnets/core/browser";

/**
 * d2l's predictions grid (`predict_ch3`, as the CLI's `convnets predict` draws it): the first test images,
 * each with its true label and its predicted one, green when right, red when wrong.
 */
export function drawPredictions(
  container: HTMLElement,
  set: ImageSet,
  predictions: Uint8Array,
  classNames: readonly string[],
  count = 16,
): void {
  const pixels = set.height * set.width;
  const figures = Array.from({ length: Math.min(count, set.count) }, (_, i) => {
    const canvas = document.createElement("canvas");
    canvas.width = set.width;
    canvas.height = set.height;
    const image = new ImageData(set.width, set.height);
    for (let p = 0; p < pixels; p++) {
      const v = set.images[i * pixels + p]!;
      image.data.set([v, v, v, 255], p * 4);
    }
    canvas.getContext("2d")!.putImageData(image, 0, 0);
    const truth = classNames[set.labels[i]!]!;
    const predicted = classNames[predictions[i]!]!;
    const figure = document.createElement("figure");
    figure.className = `prediction ${truth === predicted ? "right" : "wrong"}`;
    const caption = document.createElement("figcaption");
    caption.innerHTML = `<div class="true"></div><div class="predicted"></div>`;
    caption.querySelector(".true")!.textContent = truth;
    caption.querySelector(".predicted")!.textContent = predicted;
    figure.append(canvas, caption);
    return figure;
  });
  container.replaceChildren(...figures);
}
