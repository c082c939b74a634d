// The repo has no @types/react-dom (and this example adds no dependency):
// the one entry point the example uses, typed by hand.
declare module 'react-dom/client' {
  import type { ReactNode } from 'react';

  export interface Root {
    render(children: ReactNode): void;
    unmount(): void;
  }
  export function createRoot(container: Element | DocumentFragment): Root;
}
