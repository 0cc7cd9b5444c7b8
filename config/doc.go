// Package config holds the rules of Keel's configuration values, free of
// storage and HTTP: keys, tags and types, the canonical text of every
// value, schema key patterns, import and export documents, and the diffs
// shown in the history and compare views.
//
// # Keys, tags and types
//
// A key is 1 to 200 ASCII letters, digits and the characters . _ - /
// ("db.host", "svc/api.url", "feature_x", "log-level"). A tag is a
// lowercase letter or digit followed by up to 39 lowercase letters,
// digits and . _ -.
//
// Every value has a type: string, number, boolean, json (an object or an
// array) or secret (a string that the store keeps encrypted). A value is
// stored as canonical text, produced by Normalize:
//
//   - number: the user may write an optional sign, digits, a fraction and
//     an exponent ("42", "-3.5", "+7", "007", ".5", "5.", "1e6"). Spaces,
//     hex, NaN, Infinity and values beyond float64 are refused; values are
//     float64, so "9007199254740993" is stored as "9007199254740992" and
//     "1e-400" as "0". The canonical text is the shortest that reads back
//     to the same float64, formatted like JavaScript's Number#toString:
//     "5432", "12.5", "0.000001", "1e-7", "1e+21"; negative zero is "0".
//     Integers below 1e21 never use an exponent.
//   - boolean: "true" or "false" (input in any letter case).
//   - json: an object or array. Duplicate keys in an object are refused.
//     The canonical text is compact, keeps the key order and the number
//     literals as written ("2.0" stays "2.0"), and writes strings with the
//     fewest escapes: only '"', '\' and control characters are escaped, so
//     "\u00e9" and "\/" become "é" and "/". Syntax errors give a line and
//     a column: "Unexpected character 'x' at line 3, column 7."
//   - string and secret: the text as is, any valid UTF-8 up to 256 KiB
//     (the limit of every value).
//
// # Import and export
//
// Export writes a list of items sorted by key; Import reads one back. For
// every format, Import(f, Export(f, items), types) gives items back
// exactly when types holds each item's type. Import reports every problem
// at once in an *ImportError (each Problem names its key and, when the
// format tells, its line) and then imports nothing. Documents larger than
// 10 MiB are refused; an empty document (or only white space and comments)
// imports no items.
//
// On import, an existing key keeps its type (the types argument) and the
// document's value is converted to it: a string "5432" or a number 5432
// both import as a number for a number key, a number or boolean imports as
// its text for a string key, a string "{...}" imports as a document for a
// json key, and a value that does not fit ("abc" for a number key) is a
// problem. A new key takes the type the document gives it. A secret is
// never turned into plain text: a value marked as a secret for an existing
// non-secret key is a problem, while plain text for an existing secret key
// becomes its new secret value.
//
// JSON and YAML documents are one flat object (mapping) from key to value:
//
//	{
//	  "db.host": "localhost",
//	  "db.port": 5432,
//	  "features": {"beta": true},
//	  "debug": false,
//	  "api.token": {"$secret": "s3cr3t"},
//	  "old.token": {"$secret": null}
//	}
//
// Strings are strings, numbers and booleans are native, json values are
// the native object or array. A secret is an object with the single key
// "$secret": its value is the secret in clear, or null when the export
// masked it. On import a masked secret gives an item with Masked set and
// no value (the store keeps the current one); it is a problem for a key
// that does not exist yet. Any other object or array is a json value; an
// object with the single key "$secret" imports as a json document only
// for an existing json key. null is refused.
//
// The JSON format is read with encoding/json; duplicate keys, at any
// depth, are refused. The YAML format is read with go.yaml.in/yaml/v3: a
// single document whose top level is a mapping. YAML's own types follow
// YAML 1.2 (0x1f and 0o17 are numbers, yes and no are strings, dates are
// strings); anchors and aliases are expanded; merge keys (<<), binary and
// custom tags are refused. Export writes strings that YAML 1.1 readers
// would take for booleans (yes, no, on, off) in quotes.
//
// # The .env format
//
// A .env document has one NAME=value line per key, read with
// github.com/joho/godotenv. godotenv's names allow letters, digits, '_'
// and '.', so a key made of those ("db.host", "LOG_LEVEL") is its own
// name. Values are written bare when that is unambiguous, else in single
// quotes (taken literally), else in double quotes, where \\ \" \n \r and
// \$ are escapes. On import godotenv's rules apply: "# " starts a comment
// after white space in a bare value, and $NAME or ${NAME} inside a bare or
// double-quoted value is replaced by a name defined earlier in the file.
//
// What a plain .env line cannot say goes in a comment line directly above
// it, starting with "# keel:" and followed by words:
//
//	key=KEY       the Keel key, when it is not the name: a key with '-' or
//	              '/' is written under a name with those replaced by '_'
//	              (and '_' appended while that name is taken)
//	type=TYPE     the type of a number, boolean, json or secret value;
//	              without it a new key is a string
//	masked        a secret exported without its value; the line has an
//	              empty value
//	base64        the value is the standard base64 of the text, for the
//	              rare text that no quoting can hold (godotenv cannot read
//	              a quoted value ending in " or \)
//
// For example:
//
//	db.host=localhost
//	# keel: type=number
//	db.port=5432
//	# keel: type=json
//	features='{"beta":true}'
//	# keel: key=svc/api.url
//	svc_api.url=https://api.example.com
//	# keel: type=secret
//	api.token=s3cr3t
//	# keel: type=secret masked
//	old.token=
//
// Applications that load the file with godotenv (or similar) see the plain
// variables and ignore the comments. On import, a masked line that has
// been given a value imports that value. A "# keel:" comment that is not
// directly above a NAME=value line, an unknown word, and a name or key set
// twice are problems.
//
// # Diffs
//
// WordDiff compares two texts word by word; Diff compares two values line
// by line, pretty-printing json values with sorted keys first, and pairs
// removed and added lines into changed lines (OpChange) that carry a
// WordDiff. Past 1000 differing words or lines they stop refining and
// report the rest of the changed region as removed and added whole.
//
// # Schema patterns
//
// A schema applies to a key or to a pattern where '*' stands for any run
// of characters: "db.*" matches "db.host" and "db.pool.size". When several
// patterns match a key, the one with the highest Specificity wins: an
// exact key, then the longest text before the first '*'.
package config
