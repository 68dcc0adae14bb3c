export { type LenetOptions, lenet, lenetBN, lenetBNSpec, lenetSpec } from "./lenet.js";
