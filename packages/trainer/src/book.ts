/**
 * Where a network is built in "Dive into Deep Learning" (Zhang, Lipton, Li, Smola; d2l.ai, Cambridge University
 * Press 2023), the book a user can open. A spec names it in `d2lSection`; a spec or run record that still carries
 * only the numbering of the project's former study notes (`seedSection`) is shown the book's section for it.
 */
const BOOK_SECTION_OF_NOTES: Readonly<Record<string, string>> = {
  "2.1": "7.6", // LeNet
  "3.1": "8.1", // AlexNet
  "3.2": "8.2", // VGG
  "3.3": "8.3", // NiN
  "3.4": "8.4", // GoogLeNet
  "3.5": "8.5", // batch normalization (LeNet-BN)
  "3.6": "8.6", // ResNet
  "3.7": "8.7", // DenseNet
};

/** The d2l section of a spec or run record, e.g. "8.6" for ResNet-18; undefined when it names none. */
export function bookSection(spec: { d2lSection?: string; seedSection?: string }): string | undefined {
  return spec.d2lSection ?? (spec.seedSection ? BOOK_SECTION_OF_NOTES[spec.seedSection] : undefined);
}

/** "d2l §8.6", or "" when the spec names no section. */
export function bookCitation(spec: { d2lSection?: string; seedSection?: string }): string {
  const section = bookSection(spec);
  return section ? `d2l §${section}` : "";
}
