import { PNG } from "pngjs";
import { CHAR_ADVANCE, GLYPH_HEIGHT, glyph } from "./font.js";

/** One test image with its labels, for the predictions picture (d2l's `predict_ch3`). */
export interface Prediction {
  /** Grey values 0–255, row-major, `height × width`. */
  pixels: Uint8Array;
  height: number;
  width: number;
  trueLabel: string;
  predictedLabel: string;
}

type RGB = [number, number, number];
const WHITE: RGB = [255, 255, 255];
const INK: RGB = [33, 33, 33];
const RIGHT: RGB = [30, 130, 50];
const WRONG: RGB = [200, 30, 30];

/** Layout: images enlarged 4×, two label lines under each (true, then predicted), wrapped to rows. */
const LAYOUT = {
  zoom: 4,
  textScale: 2,
  columns: 8,
  tileWidth: 140,
  pad: 8,
  border: 2,
} as const;

function tileHeight(imageHeight: number): number {
  const { zoom, textScale, pad, border } = LAYOUT;
  return pad + border * 2 + imageHeight * zoom + pad + 2 * (GLYPH_HEIGHT + 3) * textScale + pad;
}

function gridSize(predictions: Prediction[]): { columns: number; rows: number; width: number; height: number } {
  const columns = Math.min(LAYOUT.columns, predictions.length);
  const rows = Math.ceil(predictions.length / columns);
  const first = predictions[0]!;
  return { columns, rows, width: columns * LAYOUT.tileWidth, height: rows * tileHeight(first.height) };
}

/** A PNG of the images in a grid, each with its true label and its predicted one (green right, red wrong). */
export function predictionsPng(predictions: Prediction[]): Buffer {
  if (predictions.length === 0) throw new Error("no predictions to draw");
  const { columns, width, height } = gridSize(predictions);
  const png = new PNG({ width, height });
  const set = (x: number, y: number, [r, g, b]: RGB) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const i = (y * width + x) * 4;
    png.data[i] = r;
    png.data[i + 1] = g;
    png.data[i + 2] = b;
    png.data[i + 3] = 255;
  };
  const rect = (x0: number, y0: number, w: number, h: number, color: RGB) => {
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) set(x, y, color);
  };
  const text = (value: string, x0: number, y0: number, color: RGB) => {
    const s = LAYOUT.textScale;
    [...value].forEach((char, k) => {
      glyph(char).forEach((row, gy) => {
        row.forEach((on, gx) => {
          if (on) rect(x0 + (k * CHAR_ADVANCE + gx) * s, y0 + gy * s, s, s, color);
        });
      });
    });
  };
  rect(0, 0, width, height, WHITE);
  const { zoom, textScale, pad, border, tileWidth } = LAYOUT;
  predictions.forEach((p, n) => {
    const tileX = (n % columns) * tileWidth;
    const tileY = Math.floor(n / columns) * tileHeight(p.height);
    const right = p.trueLabel === p.predictedLabel;
    const imageX = tileX + Math.floor((tileWidth - p.width * zoom) / 2);
    const imageY = tileY + pad + border;
    rect(
      imageX - border,
      imageY - border,
      p.width * zoom + 2 * border,
      p.height * zoom + 2 * border,
      right ? RIGHT : WRONG,
    );
    for (let y = 0; y < p.height; y++) {
      for (let x = 0; x < p.width; x++) {
        const v = p.pixels[y * p.width + x]!;
        rect(imageX + x * zoom, imageY + y * zoom, zoom, zoom, [v, v, v]);
      }
    }
    const lineHeight = (GLYPH_HEIGHT + 3) * textScale;
    const textY = imageY + p.height * zoom + border + pad;
    const centred = (label: string) =>
      tileX + Math.max(0, Math.floor((tileWidth - label.length * CHAR_ADVANCE * textScale) / 2));
    text(p.trueLabel, centred(p.trueLabel), textY, INK);
    text(p.predictedLabel, centred(p.predictedLabel), textY + lineHeight, right ? RIGHT : WRONG);
  });
  return PNG.sync.write(png);
}

/** One greyscale image as a PNG, for embedding in the SVG. */
function imagePng(p: Prediction): Buffer {
  const png = new PNG({ width: p.width, height: p.height });
  for (let i = 0; i < p.width * p.height; i++) {
    const v = p.pixels[i]!;
    png.data.set([v, v, v, 255], i * 4);
  }
  return PNG.sync.write(png);
}

const escapeXml = (s: string) =>
  s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);

const hex = ([r, g, b]: RGB) => `#${[r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("")}`;

/** The same grid as an SVG, with real text (searchable, scalable) and the images embedded as PNGs. */
export function predictionsSvg(predictions: Prediction[]): string {
  if (predictions.length === 0) throw new Error("no predictions to draw");
  const { columns, width, height } = gridSize(predictions);
  const { zoom, pad, border, tileWidth } = LAYOUT;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="15">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  predictions.forEach((p, n) => {
    const tileX = (n % columns) * tileWidth;
    const tileY = Math.floor(n / columns) * tileHeight(p.height);
    const right = p.trueLabel === p.predictedLabel;
    const w = p.width * zoom;
    const h = p.height * zoom;
    const x = tileX + Math.floor((tileWidth - w) / 2);
    const y = tileY + pad + border;
    const centre = tileX + tileWidth / 2;
    const textY = y + h + border + pad + 14;
    parts.push(
      `<g class="prediction ${right ? "right" : "wrong"}">`,
      `<rect x="${x - border / 2}" y="${y - border / 2}" width="${w + border}" height="${h + border}" fill="none" stroke="${hex(right ? RIGHT : WRONG)}" stroke-width="${border}"/>`,
      `<image x="${x}" y="${y}" width="${w}" height="${h}" style="image-rendering:pixelated" href="data:image/png;base64,${imagePng(p).toString("base64")}"/>`,
      `<text class="true" x="${centre}" y="${textY}" text-anchor="middle" fill="${hex(INK)}">${escapeXml(p.trueLabel)}</text>`,
      `<text class="predicted" x="${centre}" y="${textY + 22}" text-anchor="middle" fill="${hex(right ? RIGHT : WRONG)}">${escapeXml(p.predictedLabel)}</text>`,
      "</g>",
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}
