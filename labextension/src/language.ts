/**
 * The language of a `%%promql` cell: a one-line outer grammar (the magic, its options and their
 * values) with codemirror-promql's PromQL grammar mounted on the body, so that the body is parsed
 * (and highlighted, folded, commented) exactly as Prometheus' own editor does it.
 */
import { Language, defineLanguageFacet, languageDataProp } from '@codemirror/language';
import {
  Input,
  NodeSet,
  NodeType,
  Parser,
  PartialParse,
  Tree,
  TreeFragment,
  parseMixed
} from '@lezer/common';
import { styleTags, tagHighlighter, tags as t } from '@lezer/highlight';
import { LanguageType, promQLLanguage } from '@prometheus-io/codemirror-promql';

import { MagicTokenKind, splitPromqlCell } from './magic';

const promql = promQLLanguage(LanguageType.PromQL);

const cellData = defineLanguageFacet({
  commentTokens: { line: '#' },
  closeBrackets: { brackets: ['(', '[', '{', "'", '"', '`'] }
});

/** Node names of the outer grammar; `Body` is where the PromQL tree is mounted. */
const NODE_NAMES = ['PromqlCell', 'Magic', 'Option', 'OptionValue', 'Body'] as const;
const KIND_NODE: Record<MagicTokenKind, number> = { magic: 1, option: 2, value: 3 };
const BODY = 4;

const nodeSet = new NodeSet(
  NODE_NAMES.map((name, id) =>
    NodeType.define({
      id,
      name,
      top: id === 0,
      props: id === 0 ? [[languageDataProp, cellData]] : []
    })
  )
).extend(
  styleTags({
    Magic: t.processingInstruction,
    Option: t.attributeName,
    OptionValue: t.attributeValue
  })
);

/** The outer tree of a cell's text: the magic line's tokens, then the body. */
export function outerTree(text: string): Tree {
  const cell = splitPromqlCell(text);
  const buffer: number[] = [];
  if (cell !== null) {
    for (const token of cell.tokens) {
      buffer.push(KIND_NODE[token.kind], token.from, token.to, 4);
    }
    if (cell.bodyTo > cell.bodyFrom) {
      buffer.push(BODY, cell.bodyFrom, cell.bodyTo, 4);
    }
  }
  return Tree.build({ buffer, nodeSet, topID: 0, length: text.length });
}

/** A cell is short: every parse reads the whole text at once (the body's parse is incremental). */
class CellParse implements PartialParse {
  parsedPos: number;
  stoppedAt: number | null = null;

  constructor(
    private readonly input: Input,
    private readonly from: number,
    private readonly to: number
  ) {
    this.parsedPos = from;
  }

  advance(): Tree {
    this.parsedPos = this.to;
    return outerTree(this.input.read(this.from, this.to));
  }

  stopAt(pos: number): void {
    this.stoppedAt = pos;
  }
}

const mountPromql = parseMixed(node => (node.type.id === BODY ? { parser: promql.parser } : null));

class CellParser extends Parser {
  createParse(
    input: Input,
    fragments: readonly TreeFragment[],
    ranges: readonly { from: number; to: number }[]
  ): PartialParse {
    const from = ranges.length ? ranges[0].from : 0;
    const to = ranges.length ? ranges[ranges.length - 1].to : input.length;
    return mountPromql(new CellParse(input, from, to), input, fragments, ranges);
  }
}

export const promqlCellLanguage = new Language(cellData, new CellParser(), [], 'promql');

/**
 * Stable class names for what the editor shows, besides JupyterLab's own theme colours: the
 * stylesheet colours the few that JupyterLab's highlight style leaves plain (function names,
 * option values), and tests and user CSS can find a function or a duration by name.
 */
export const promqlClasses = tagHighlighter([
  { tag: t.processingInstruction, class: 'sysmon-promql-magic' },
  { tag: t.attributeName, class: 'sysmon-promql-option' },
  { tag: t.attributeValue, class: 'sysmon-promql-option-value' },
  { tag: t.function(t.variableName), class: 'sysmon-promql-function' },
  { tag: t.operatorKeyword, class: 'sysmon-promql-aggregation' },
  { tag: t.modifier, class: 'sysmon-promql-modifier' },
  { tag: t.logicOperator, class: 'sysmon-promql-keyword' },
  { tag: t.number, class: 'sysmon-promql-number' },
  { tag: t.labelName, class: 'sysmon-promql-label' },
  { tag: t.string, class: 'sysmon-promql-string' },
  { tag: t.operator, class: 'sysmon-promql-operator' },
  { tag: t.variableName, class: 'sysmon-promql-metric' },
  { tag: t.comment, class: 'sysmon-promql-comment' },
  { tag: t.invalid, class: 'sysmon-promql-invalid' }
]);
