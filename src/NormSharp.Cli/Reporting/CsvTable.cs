using System.Globalization;
using System.Text;

namespace NormSharp.Cli.Reporting;

/// <summary>A CSV table built row by row: comma-separated, invariant culture, a header line, RFC 4180 quoting.</summary>
internal sealed class CsvTable(params string[] columns)
{
    private readonly StringBuilder text = new(string.Join(",", columns.Select(Quote)) + "\n");

    /// <summary>Appends a row; numbers use the invariant culture, 7 significant digits (float32 precision), NaN as empty.</summary>
    public CsvTable Row(params object?[] values)
    {
        if (values.Length != columns.Length)
        {
            throw new ArgumentException($"CSV row has {values.Length} values, the header has {columns.Length} columns ({string.Join(",", columns)}).");
        }
        text.Append(string.Join(",", values.Select(Format))).Append('\n');
        return this;
    }

    public override string ToString() => text.ToString();

    private static string Format(object? value) => value switch
    {
        null => "",
        double d when double.IsNaN(d) => "",
        double d => d.ToString("G7", CultureInfo.InvariantCulture),
        float f => f.ToString("G7", CultureInfo.InvariantCulture),
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => Quote(value.ToString() ?? ""),
    };

    private static string Quote(string s) =>
        s.IndexOfAny([',', '"', '\n', '\r']) >= 0 ? "\"" + s.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : s;
}
