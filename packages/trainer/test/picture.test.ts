import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { glyph } from "../src/font.js";
import { type Prediction, predictionsPng, predictionsSvg } from "../src/picture.js";
import { assertWellFormedXml } from "./helpers.js";

function image(value: number): Uint8Array {
  return new Uint8Array(28 * 28).fill(value);
}

const predictions: Prediction[] = [
  { pixels: image(200), height: 28, width: 28, trueLabel: "Ankle boot", predictedLabel: "Ankle boot" },
  { pixels: image(90), height: 28, width: 28, trueLabel: "T-shirt/top", predictedLabel: "Shirt" },
];

const pixel = (png: PNG, x: number, y: number) => {
  const i = (y * png.width + x) * 4;
  return [png.data[i], png.data[i + 1], png.data[i + 2]];
};

/** Colours present in a rectangle of the picture. */
function colours(png: PNG, x0: number, y0: number, x1: number, y1: number): Set<string> {
  const seen = new Set<string>();
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) seen.add(pixel(png, x, y).join(","));
  return seen;
}

describe("predictions picture", () => {
  it("PNG: one tile per image, the image enlarged, a green frame when right and a red one when wrong, labels drawn", () => {
    const png = PNG.sync.read(predictionsPng(predictions));
    expect(png.width).toBe(2 * 140);
    // Image of tile 1 (value 200) is enlarged 4×: 112 px wide, centred in a 140 px tile, below an 8 px pad and 2 px frame.
    expect(pixel(png, 14 + 56, 10 + 56)).toEqual([200, 200, 200]);
    expect(pixel(png, 140 + 14 + 56, 10 + 56)).toEqual([90, 90, 90]);
    expect(pixel(png, 13, 60)).toEqual([30, 130, 50]); // frame, right
    expect(pixel(png, 140 + 13, 60)).toEqual([200, 30, 30]); // frame, wrong
    const labels = 10 + 112 + 2 + 8;
    const tile1 = colours(png, 0, labels, 140, png.height);
    const tile2 = colours(png, 140, labels, 280, png.height);
    expect(tile1.has("33,33,33")).toBe(true); // true label ink
    expect(tile1.has("30,130,50")).toBe(true); // predicted label in green
    expect(tile2.has("200,30,30")).toBe(true); // predicted label in red
  });

  it("wraps to rows of 8", () => {
    const many = Array.from({ length: 10 }, () => predictions[0]!);
    const png = PNG.sync.read(predictionsPng(many));
    const one = PNG.sync.read(predictionsPng([predictions[0]!]));
    expect(png.width).toBe(8 * 140);
    expect(png.height).toBe(2 * one.height);
  });

  it("SVG: well formed, an embedded PNG per image, the labels as text, right and wrong told apart", () => {
    const svg = predictionsSvg(predictions);
    assertWellFormedXml(svg);
    expect(svg.match(/<image /g)).toHaveLength(2);
    const embedded = /href="data:image\/png;base64,([^"]+)"/.exec(svg)![1]!;
    const decoded = PNG.sync.read(Buffer.from(embedded, "base64"));
    expect([decoded.width, decoded.height]).toEqual([28, 28]);
    expect(svg).toContain('<g class="prediction right">');
    expect(svg).toContain('<g class="prediction wrong">');
    expect(svg).toContain(">T-shirt/top</text>");
    expect(svg).toContain(">Shirt</text>");
  });

  it("has a glyph for every character of the Fashion-MNIST class names", () => {
    const names = "T-shirt/top Trouser Pullover Dress Coat Sandal Shirt Sneaker Bag Ankle boot";
    const unknown = glyph("\u0000");
    for (const c of new Set(names)) {
      const g = glyph(c);
      expect(g).toHaveLength(8);
      for (const row of g) expect(row).toHaveLength(5);
      if (c !== "?") expect(g).not.toEqual(unknown);
    }
  });
});
