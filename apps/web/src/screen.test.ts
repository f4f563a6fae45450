import { describe, expect, it } from 'vitest';
import { Screen, type ScreenCanvas } from './screen.js';

/** A canvas that records what is put on it; ImageData is a plain record in Node. */
function fakeCanvas() {
  const puts: ImageData[] = [];
  const canvas: ScreenCanvas = {
    width: 300,
    height: 150,
    getContext: () => ({ putImageData: (image) => puts.push(image) }),
  };
  const images: ImageData[] = [];
  const newImage = (rgba: Uint8ClampedArray, width: number, height: number) => {
    const image = { data: rgba, width, height, colorSpace: 'srgb' } as unknown as ImageData;
    images.push(image);
    return image;
  };
  return { canvas, puts, images, newImage };
}

describe('the VGA screen', () => {
  it('draws only frames the guest changed, into one ImageData while the mode stays', () => {
    const { canvas, puts, images, newImage } = fakeCanvas();
    const buffer = new Uint8ClampedArray(720 * 400 * 4);
    const source = { generation: 1, render: () => ({ width: 720, height: 400, rgba: buffer.subarray(0) }) };
    const screen = new Screen(canvas, newImage);
    expect(screen.draw(source)).toBe(true);
    expect([canvas.width, canvas.height]).toEqual([720, 400]);
    expect(screen.draw(source)).toBe(false); // nothing changed
    source.generation = 2;
    expect(screen.draw(source)).toBe(true);
    expect(puts).toHaveLength(2);
    expect(images).toHaveLength(1);
    expect(puts[1]).toBe(puts[0]);
  });

  it('resizes the canvas for a new mode', () => {
    const { canvas, images, newImage } = fakeCanvas();
    const source = {
      generation: 1,
      render: () => ({ width: 640, height: 480, rgba: new Uint8ClampedArray(640 * 480 * 4) }),
    };
    const screen = new Screen(canvas, newImage);
    screen.draw(source);
    expect([canvas.width, canvas.height, images[0]?.width, images[0]?.height]).toEqual([640, 480, 640, 480]);
  });
});
