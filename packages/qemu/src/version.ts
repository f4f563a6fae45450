/** Version string printed by `-version` and `info version`. */
export const VERSION = '0.1.0';
