/** Interning number sequences (stacks, label sets) without building string keys. */

/** A node of a trie over number sequences: interning a sequence is one Map lookup per element. */
export class TrieNode {
  /** The interned id of the sequence ending here; -1 until one is given. */
  id = -1;
  children: Map<number | bigint, TrieNode> | undefined = undefined;

  child(step: number | bigint): TrieNode {
    this.children ??= new Map();
    let next = this.children.get(step);
    if (next === undefined) {
      next = new TrieNode();
      this.children.set(step, next);
    }
    return next;
  }
}
