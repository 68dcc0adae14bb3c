import { alexnetSpec } from "@convnets/alexnet";
import { densenetSpec } from "@convnets/densenet";
import { googlenetSpec } from "@convnets/googlenet";
import { lenetBNSpec, lenetSpec } from "@convnets/lenet";
import { ninSpec } from "@convnets/nin";
import { resnet18Spec } from "@convnets/resnet";
import { vgg11Spec } from "@convnets/vgg";
import { expect, it } from "vitest";
import { bookCitation, bookSection } from "../src/book.js";

it("names each network's section of d2l.ai (2nd edition: chapters 7 and 8)", () => {
  const sections = [
    lenetSpec,
    lenetBNSpec,
    alexnetSpec,
    vgg11Spec,
    ninSpec,
    googlenetSpec,
    resnet18Spec,
    densenetSpec,
  ].map(bookSection);
  expect(sections).toEqual(["7.6", "8.5", "8.1", "8.2", "8.3", "8.4", "8.6", "8.7"]);
  expect(bookCitation(resnet18Spec)).toBe("d2l §8.6");
});

it("prefers a spec's own d2lSection, and shows a run made before it (seedSection only) the book's section", () => {
  expect(bookSection({ d2lSection: "8.8", seedSection: "3.6" })).toBe("8.8");
  expect(bookSection({ seedSection: "3.7" })).toBe("8.7");
  expect(bookCitation({})).toBe("");
  expect(bookCitation({ seedSection: "9.9" })).toBe("");
});
