export { AssembleError, type AssembleOptions, asm, assemble } from './assembler.js';
export { type DecodeOptions, MAX_INSTRUCTION_LENGTH, decode, decodeAll, decodeInto } from './decoder.js';
export { EncodeError, encode } from './encoder.js';
export { codeCpuidFeatures } from './features.js';
export { formatHex, formatInstruction, formatMnemonic, formatOperand, formatOperands } from './formatter.js';
export {
  type Bitness,
  DecodeError,
  Flag,
  FlowControl,
  Instruction,
  OpKind,
  Prefix,
  RepPrefix,
} from './instruction.js';
export { CODE_NAMES, CPUID_FEATURE_NAMES, MNEMONIC_NAMES, codeName, mnemonicName } from './names.js';
export {
  REGISTER_COUNT,
  REGISTER_NAMES,
  Register,
  RegisterClass,
  fullRegister64,
  isHighByteRegister,
  registerClass,
  registerIndex,
} from './registers.js';
export { SEMANTIC_FIELDS, semanticDiff } from './roundtrip.js';
export { CODE_COUNT, Code, CpuidFeature, Mnemonic } from './table.gen.js';
