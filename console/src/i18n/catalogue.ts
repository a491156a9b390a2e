/** A catalogue's shape: the same keys as `T`, each a string. The English half of every part is typed with it, so a missing or extra key does not compile. */
export type Catalogue<T> = { [K in keyof T]: T[K] extends string ? string : Catalogue<T[K]> };
