// A TypeScript task module. The workers import it by URL, so they need the
// same TypeScript loader as the parent: they get it through the parent's
// execArgv (`node --import tsx ...`).

export interface Rect {
  width: number;
  height: number;
}

export function area(rect: Rect): number {
  return rect.width * rect.height;
}

export async function totalArea(rects: Rect[]): Promise<number> {
  let total = 0;
  for (const rect of rects) total += area(rect);
  return total;
}
