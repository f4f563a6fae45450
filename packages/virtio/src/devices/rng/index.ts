export { type EntropySource, type RngOptions, RngDevice, webCryptoEntropy } from './device.js';
