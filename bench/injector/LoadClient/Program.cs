// Fixed-rate (open-loop) load: request i is due at start + i/rate whatever happened before, and its latency counts
// from that due time, so a stall shows up in the percentiles instead of silently lowering the rate (coordinated
// omission, which closed-loop tools like wrk suffer from). Keep-alive HTTPS connections, a fixed pool of them.
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;

var options = new Dictionary<string, string>(StringComparer.Ordinal);
for (var i = 0; i + 1 < args.Length; i += 2)
{
    options[args[i].TrimStart('-')] = args[i + 1];
}

var url = new Uri(options["url"]);
var body = options.TryGetValue("body", out var bodyFile) ? File.ReadAllBytes(bodyFile) : null;
var rate = int.Parse(options.GetValueOrDefault("rate", "1000"), CultureInfo.InvariantCulture);
var seconds = double.Parse(options.GetValueOrDefault("duration", "10"), CultureInfo.InvariantCulture);
var connections = int.Parse(options.GetValueOrDefault("connections", "32"), CultureInfo.InvariantCulture);
var label = options.GetValueOrDefault("label", url.AbsolutePath);
var sequential = options.GetValueOrDefault("sequential", "0") != "0";

using var handler = new SocketsHttpHandler
{
    MaxConnectionsPerServer = connections,
    PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
    SslOptions = { RemoteCertificateValidationCallback = (_, _, _, _) => true }, // the benchmark's own self-signed cert
};
using var client = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };

async Task<bool> SendAsync()
{
    using var request = new HttpRequestMessage(body is null ? HttpMethod.Get : HttpMethod.Post, url);
    if (body is not null)
    {
        request.Content = new ByteArrayContent(body);
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
    }

    using var response = await client.SendAsync(request);
    var payload = await response.Content.ReadAsByteArrayAsync();
    return response.IsSuccessStatusCode && payload.Length > 0;
}

// warm up: JIT, TLS handshakes on every connection
await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => SendAsync()));

var total = sequential ? int.Parse(options.GetValueOrDefault("count", "200"), CultureInfo.InvariantCulture) : (int)(rate * seconds);
var latencies = new double[total];
var errors = 0;
var clock = Stopwatch.StartNew();
if (sequential)
{
    for (var i = 0; i < total; i++)
    {
        var started = clock.Elapsed.TotalMilliseconds;
        if (!await SendAsync())
        {
            errors++;
        }

        latencies[i] = clock.Elapsed.TotalMilliseconds - started;
    }
}
else
{
    var inFlight = new List<Task>(total);
    var interval = 1000.0 / rate;
    for (var i = 0; i < total; i++)
    {
        var due = i * interval;
        var wait = due - clock.Elapsed.TotalMilliseconds;
        if (wait > 1)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(wait));
        }

        var index = i;
        inFlight.Add(Task.Run(async () =>
        {
            try
            {
                if (!await SendAsync())
                {
                    Interlocked.Increment(ref errors);
                }
            }
            catch (HttpRequestException)
            {
                Interlocked.Increment(ref errors);
            }
            catch (TaskCanceledException)
            {
                Interlocked.Increment(ref errors);
            }

            latencies[index] = clock.Elapsed.TotalMilliseconds - due;
        }));
    }

    await Task.WhenAll(inFlight);
}

var elapsed = clock.Elapsed.TotalSeconds;
Array.Sort(latencies);
double Percentile(double p) => latencies[Math.Min(latencies.Length - 1, (int)Math.Ceiling(p / 100 * latencies.Length) - 1)];
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{label,-28} requests={total} req/s={total / elapsed,8:F0} p50={Percentile(50),7:F2}ms p90={Percentile(90),7:F2}ms p99={Percentile(99),7:F2}ms max={latencies[^1],7:F2}ms errors={errors}"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"RESULT {label} {Percentile(50):F3} {Percentile(99):F3} {errors}"));
return errors == 0 ? 0 : 1;
