import {
  aluProgram,
  bitProgram,
  mulDivProgram,
  pagingProgram,
  segmentProgram,
  shiftProgram,
  stringProgram,
  taskSwitchProgram,
  v86Program,
  x87Program,
} from './programs.js';

/** Every CPU test program by name; kernels/<name>.mb and golden/<name>.txt follow these names. */
export const PROGRAMS: Record<string, () => string> = {
  alu: aluProgram,
  shifts: shiftProgram,
  muldiv: mulDivProgram,
  string: stringProgram,
  bits: bitProgram,
  segments: segmentProgram,
  paging: pagingProgram,
  tasks: taskSwitchProgram,
  v86: v86Program,
  x87: x87Program,
};
