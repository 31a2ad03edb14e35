using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Fluid.Serverless.Sidecar.S3Api;

/// <summary>
/// A small forward-only XML writer for S3 response documents into a pooled buffer (UTF-8). Text is escaped for
/// XML 1.0; characters XML 1.0 cannot carry literally (controls other than tab/CR/LF) are written as numeric
/// references, as S3 does. Dispose returns the buffer.
/// </summary>
internal sealed class S3XmlWriter : IDisposable
{
    private static ReadOnlySpan<byte> Declaration => "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"u8;
    private byte[] _buffer;
    private int _length;

    public S3XmlWriter(int initialCapacity = 4096)
    {
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
        Raw(Declaration);
    }

    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, _length);

    /// <summary><c>&lt;name xmlns="http://s3.amazonaws.com/doc/2006-03-01/"&gt;</c></summary>
    public void StartDocumentElement(ReadOnlySpan<byte> name)
    {
        Raw("<"u8);
        Raw(name);
        Raw(" xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"u8);
    }

    public void Start(ReadOnlySpan<byte> name)
    {
        Raw("<"u8);
        Raw(name);
        Raw(">"u8);
    }

    public void End(ReadOnlySpan<byte> name)
    {
        Raw("</"u8);
        Raw(name);
        Raw(">"u8);
    }

    public void Element(ReadOnlySpan<byte> name, string? value)
    {
        Start(name);
        Text(value);
        End(name);
    }

    public void Element(ReadOnlySpan<byte> name, long value)
    {
        Start(name);
        var span = GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        _length += written;
        End(name);
    }

    public void Element(ReadOnlySpan<byte> name, bool value) => Element(name, value ? "true" : "false");

    /// <summary>ISO 8601 with milliseconds in UTC, as S3 lists LastModified: 2009-10-12T17:50:30.000Z.</summary>
    public void Element(ReadOnlySpan<byte> name, DateTimeOffset value) =>
        Element(name, value.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture));

    public void Text(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        var start = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            ReadOnlySpan<byte> escape = c switch
            {
                '&' => "&amp;"u8,
                '<' => "&lt;"u8,
                '>' => "&gt;"u8,
                '"' => "&quot;"u8,
                '\'' => "&apos;"u8,
                _ => default,
            };
            if (escape.IsEmpty && (c >= 0x20 || c is '\t'))
            {
                continue;
            }

            Utf8(value.AsSpan(start, i - start));
            if (escape.IsEmpty)
            {
                // Control characters (and CR/LF, which XML parsers would normalize away) as numeric references.
                Raw("&#x"u8);
                var span = GetSpan(4);
                Utf8Formatter.TryFormat((int)c, span, out var written, new StandardFormat('X'));
                _length += written;
                Raw(";"u8);
            }
            else
            {
                Raw(escape);
            }

            start = i + 1;
        }

        Utf8(value.AsSpan(start));
    }

    public async Task WriteToAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        response.ContentType = "application/xml";
        response.ContentLength = _length;
        await response.Body.WriteAsync(WrittenMemory, cancellationToken);
    }

    public void Dispose()
    {
        var buffer = _buffer;
        _buffer = [];
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Raw(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(GetSpan(bytes.Length));
        _length += bytes.Length;
    }

    private void Utf8(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return;
        }

        var span = GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        _length += Encoding.UTF8.GetBytes(text, span);
    }

    private Span<byte> GetSpan(int size)
    {
        if (_buffer.Length - _length < size)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, _length + size));
            _buffer.AsSpan(0, _length).CopyTo(bigger);
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        return _buffer.AsSpan(_length);
    }
}
