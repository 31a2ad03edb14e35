using System.Buffers;
using System.Globalization;
using System.Text;

namespace Fluid.Serverless.Contracts.Metrics;

/// <summary>Writes the Prometheus text format 0.0.4: HELP/TYPE lines and samples with escaped label values.</summary>
public sealed class PrometheusTextWriter(IBufferWriter<byte> output)
{
    public void Header(string name, string help, string type)
    {
        Write($"# HELP {name} {help}\n# TYPE {name} {type}\n");
    }

    public void Sample(string name, string[] labelNames, LabelValues labels, double value)
    {
        ArgumentNullException.ThrowIfNull(labelNames);
        var line = new StringBuilder(name);
        if (labelNames.Length > 0)
        {
            line.Append('{');
            for (var i = 0; i < labelNames.Length; i++)
            {
                if (i > 0)
                {
                    line.Append(',');
                }

                line.Append(labelNames[i]).Append("=\"");
                foreach (var c in labels[i] ?? "")
                {
                    _ = c switch
                    {
                        '\\' => line.Append("\\\\"),
                        '"' => line.Append("\\\""),
                        '\n' => line.Append("\\n"),
                        _ => line.Append(c),
                    };
                }

                line.Append('"');
            }

            line.Append('}');
        }

        line.Append(' ');
        line.Append(double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture));
        line.Append('\n');
        Write(line.ToString());
    }

    private void Write(string text)
    {
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        output.Advance(Encoding.UTF8.GetBytes(text, span));
    }
}
