/**
 * Hostile thrown values and results, for the property-based tests of the
 * error codec and the wire format (spec/error-codec.property.spec.ts).
 *
 * A value is described by a Recipe (plain data, so that it can be sent to a
 * worker and shown when a property fails) and built by `buildHostile`, which
 * is self-contained: its source text runs inside workers too, where the
 * value must be made, since it could not be sent there.
 */
import fc from 'fast-check';

/** How a field of an error (`name`, `message`, `code`, a property) is made. */
export type Field =
  | { t: 'absent' }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'obj' }
  | { t: 'sym' }
  | { t: 'throw' }
  | { t: 'value'; v: unknown };

export const ERROR_CLASSES = [
  'Error',
  'TypeError',
  'RangeError',
  'SyntaxError',
  'ReferenceError',
  'EvalError',
  'URIError',
  'AggregateError',
  'CancelAll',
  'Custom',
] as const;

export const TRAPS = [
  'get',
  'has',
  'ownKeys',
  'getPrototypeOf',
  'getOwnPropertyDescriptor',
] as const;

/** What task code throws or returns. */
export type Recipe =
  | { k: 'data'; v: unknown }
  | { k: 'fn' }
  | { k: 'sym' }
  | { k: 'bigint'; v: string }
  | { k: 'revoked' }
  | {
      k: 'object';
      /** Members that throw: toString, valueOf, toJSON, inspect, a getter, then. */
      throwing: string[];
    }
  | {
      k: 'error';
      ctor: (typeof ERROR_CLASSES)[number];
      name: Field;
      message: Field;
      code: Field;
      props: Array<[string, Field]>;
      cause: Recipe | undefined;
      errors: Recipe[];
      /** The error is its own cause (a cycle). */
      selfCause: boolean;
      /** A property that holds the error itself (a cycle in the properties). */
      selfProp: boolean;
      frozen: boolean;
      /** Wrapped in a Proxy whose listed traps throw. */
      traps: string[] | undefined;
    };

/** Object.prototype members and other names a lookup might trip on. */
const ODD_NAMES = [
  ...Object.getOwnPropertyNames(Object.prototype),
  'prototype',
  'CancelAll',
  'CancelledError',
  'WorkerCrashedError',
  'TypeError',
  'AggregateError',
  '',
];

const text = fc.oneof(fc.string(), fc.constantFrom(...ODD_NAMES));

const field = (allowed: readonly Field['t'][] = ['absent', 'str', 'num', 'obj', 'sym', 'throw']) =>
  fc.oneof(
    ...allowed.map((t) => {
      switch (t) {
        case 'str':
          return text.map((v): Field => ({ t: 'str', v }));
        case 'num':
          return fc.double().map((v): Field => ({ t: 'num', v }));
        case 'value':
          return fc.jsonValue().map((v): Field => ({ t: 'value', v }));
        default:
          return fc.constant({ t } as Field);
      }
    }),
  );

/** Any recipe; `benign` keeps to values that must round-trip exactly. */
export function recipes(options: { benign?: boolean; depth?: number } = {}): fc.Arbitrary<Recipe> {
  const benign = options.benign === true;
  const { recipe } = fc.letrec<{ recipe: Recipe; error: Recipe }>((tie) => ({
    recipe: fc.oneof(
      { depthSize: 'small', maxDepth: options.depth ?? 3 },
      fc.jsonValue().map((v): Recipe => ({ k: 'data', v })),
      ...(benign
        ? []
        : [
            fc.constant<Recipe>({ k: 'fn' }),
            fc.constant<Recipe>({ k: 'sym' }),
            fc.constant<Recipe>({ k: 'revoked' }),
            fc
              .subarray(['toString', 'valueOf', 'toJSON', 'inspect', 'getter', 'then'])
              .map((throwing): Recipe => ({ k: 'object', throwing })),
          ]),
      fc.bigInt().map((v): Recipe => ({ k: 'bigint', v: String(v) })),
      tie('error'),
    ),
    error: fc.record({
      k: fc.constant('error' as const),
      ctor: fc.constantFrom(...ERROR_CLASSES),
      name: benign ? field(['absent', 'str']) : field(),
      message: benign ? field(['absent', 'str']) : field(),
      code: benign ? field(['absent']) : field(),
      props: fc.array(
        fc.tuple(
          text.filter(
            (key) => !['name', 'message', 'stack', 'cause', 'errors', 'code'].includes(key),
          ),
          benign ? field(['value']) : field(['value', 'throw', 'sym', 'obj']),
        ),
        { maxLength: 3 },
      ),
      cause: fc.option(tie('recipe'), { nil: undefined }),
      errors: fc.array(tie('recipe'), { maxLength: 2 }),
      selfCause: benign ? fc.constant(false) : fc.boolean(),
      selfProp: benign ? fc.constant(false) : fc.boolean(),
      frozen: fc.boolean(),
      traps: benign
        ? fc.constant(undefined)
        : fc.option(fc.subarray([...TRAPS], { minLength: 1 }), { nil: undefined, freq: 4 }),
    }) as fc.Arbitrary<Recipe>,
  }));
  return recipe;
}

/**
 * Builds the value a recipe describes. Self-contained (its source text is
 * compiled in workers): `CancelAllClass` is the package's CancelAll, passed
 * in by the caller.
 */
export function buildHostile(
  recipe: Recipe,
  CancelAllClass: new (reason?: unknown) => Error,
): unknown {
  const boom = (what: string) => () => {
    throw new Error(`hostile ${what}`);
  };
  const fieldValue = (f: Field): unknown => {
    switch (f.t) {
      case 'str':
      case 'num':
        return f.v;
      case 'value':
        return f.v;
      case 'obj':
        return { an: 'object' };
      case 'sym':
        return Symbol('hostile');
      default:
        return undefined;
    }
  };
  const define = (target: object, key: string, f: Field, enumerable: boolean): void => {
    if (f.t === 'absent') return;
    if (f.t === 'throw') {
      Object.defineProperty(target, key, {
        get: boom(`getter ${key}`),
        enumerable,
        configurable: true,
      });
      return;
    }
    Object.defineProperty(target, key, {
      value: fieldValue(f),
      enumerable,
      writable: true,
      configurable: true,
    });
  };
  const build = (r: Recipe): unknown => {
    switch (r.k) {
      case 'data':
        return r.v;
      case 'fn':
        return function hostileFunction() {};
      case 'sym':
        return Symbol('thrown');
      case 'bigint':
        return BigInt(r.v);
      case 'revoked': {
        const { proxy, revoke } = Proxy.revocable({}, {});
        revoke();
        return proxy;
      }
      case 'object': {
        const value: Record<PropertyKey, unknown> = { plain: 1 };
        for (const member of r.throwing) {
          if (member === 'inspect')
            value[Symbol.for('nodejs.util.inspect.custom')] = boom('inspect');
          else if (member === 'getter') {
            Object.defineProperty(value, 'getter', { get: boom('getter'), enumerable: true });
          } else if (member === 'then') {
            Object.defineProperty(value, 'then', { get: boom('then') });
          } else value[member] = boom(member);
        }
        return value;
      }
      case 'error': {
        const ctors: Record<string, new (message?: string) => Error> = {
          Error,
          TypeError,
          RangeError,
          SyntaxError,
          ReferenceError,
          EvalError,
          URIError,
          CancelAll: CancelAllClass as new (message?: string) => Error,
          Custom: class Custom extends Error {},
        };
        const error =
          r.ctor === 'AggregateError'
            ? new AggregateError(r.errors.map(build), 'aggregate')
            : new ctors[r.ctor]!('made');
        define(error, 'name', r.name, false);
        define(error, 'message', r.message, false);
        define(error, 'code', r.code, true);
        for (const [key, f] of r.props) define(error, key, f, true);
        if (r.cause !== undefined) {
          Object.defineProperty(error, 'cause', {
            value: build(r.cause),
            writable: true,
            configurable: true,
          });
        }
        if (r.selfCause) {
          Object.defineProperty(error, 'cause', {
            value: error,
            writable: true,
            configurable: true,
          });
        }
        if (r.selfProp) (error as unknown as Record<string, unknown>).self = error;
        if (r.frozen) Object.freeze(error);
        if (r.traps === undefined) return error;
        const handler: ProxyHandler<Error> = {};
        for (const trap of r.traps)
          (handler as Record<string, unknown>)[trap] = boom(`trap ${trap}`);
        return new Proxy(error, handler);
      }
    }
  };
  return build(recipe);
}

/** The name the error of a benign recipe must arrive with. */
export function expectedName(recipe: Extract<Recipe, { k: 'error' }>): string {
  if (recipe.name.t === 'str') return recipe.name.v;
  return recipe.ctor === 'Custom' ? 'Error' : recipe.ctor;
}

/** The message the error of a benign recipe must arrive with. */
export function expectedMessage(recipe: Extract<Recipe, { k: 'error' }>): string {
  if (recipe.message.t === 'str') return recipe.message.v;
  if (recipe.ctor === 'AggregateError') return 'aggregate';
  return recipe.ctor === 'CancelAll' ? 'CancelAll: made' : 'made';
}
