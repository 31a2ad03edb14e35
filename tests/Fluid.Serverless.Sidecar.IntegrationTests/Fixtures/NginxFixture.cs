using System.Globalization;

namespace Fluid.Serverless.Sidecar.Tests.Fixtures;

/// <summary>
/// nginx (Debian nginx-light) as an HTTP origin on 127.0.0.1, serving <see cref="Root"/> with its default ETags and
/// range support. Started in the foreground (daemon off) as a single process (master_process off: nothing to reap on kill) from a config generated in a temp directory, so it needs no
/// root and touches nothing outside that directory.
/// </summary>
public sealed class NginxFixture : IAsyncLifetime
{
    private ServerProcess? server;
    private string? prefix;

    public int Port { get; private set; }

    /// <summary>The directory nginx serves at "/".</summary>
    public string Root { get; private set; } = "";

    /// <summary>http://127.0.0.1:port/</summary>
    public string BaseUrl => $"http://127.0.0.1:{Port}/";

    public async Task InitializeAsync()
    {
        var nginx = new[] { "/usr/sbin/nginx", "/usr/bin/nginx" }.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("nginx is not installed (looked for /usr/sbin/nginx). Install it with: apt-get install -y nginx-light");
        prefix = Directory.CreateTempSubdirectory("nginx-").FullName;
        Root = Path.Join(prefix, "www");
        Directory.CreateDirectory(Root);

        // Run as root, nginx's workers drop to an unprivileged user: they must be able to read the served tree.
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(prefix, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }
        Port = FreePort.Next();
        var config = Path.Join(prefix, "nginx.conf");
        File.WriteAllText(config, string.Create(CultureInfo.InvariantCulture, $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/error.log warn;
            events { worker_connections 256; }
            http {
                access_log off;
                default_type application/octet-stream;
                sendfile on;
                client_body_temp_path {{prefix}}/client_body;
                proxy_temp_path {{prefix}}/proxy;
                fastcgi_temp_path {{prefix}}/fastcgi;
                uwsgi_temp_path {{prefix}}/uwsgi;
                scgi_temp_path {{prefix}}/scgi;
                server {
                    listen 127.0.0.1:{{Port}};
                    root {{Root}};
                }
            }
            """));
        server = ServerProcess.Start(nginx, ["-p", prefix, "-e", Path.Join(prefix, "error.log"), "-c", config], "Install it with: apt-get install -y nginx-light");
        await server.WaitForPortAsync("nginx", Port, TimeSpan.FromSeconds(20));
    }

    /// <summary>Writes a file nginx serves at <paramref name="relative"/>.</summary>
    public string Write(string relative, byte[] content)
    {
        var path = Path.Join(Root, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, content);
        return path;
    }

    public async Task DisposeAsync()
    {
        if (server is not null)
        {
            await server.DisposeAsync();
        }

        if (prefix is not null)
        {
            Directory.Delete(prefix, recursive: true);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class NginxCollection : ICollectionFixture<NginxFixture>
{
    public const string Name = "nginx";
}
