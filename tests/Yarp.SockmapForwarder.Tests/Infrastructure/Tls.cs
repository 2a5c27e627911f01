using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Yarp.SockmapForwarder.Tests.Infrastructure;

/// <summary>Real TLS for the SNI tests: a self-signed certificate, a captured ClientHello, and a TLS echo backend.</summary>
public static class Tls
{
    private static readonly Lazy<X509Certificate2> s_certificate = new(CreateCertificate);

    public static X509Certificate2 Certificate => s_certificate.Value;

    private static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=sockmap-test", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName("db.example.test");
        san.AddDnsName("other.example.test");
        request.CertificateExtensions.Add(san.Build());
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        // Round-trip through PKCS#12 so the private key is usable by SslStream on Linux.
        return X509CertificateLoader.LoadPkcs12(cert.Export(X509ContentType.Pkcs12), null);
    }

    public static SslClientAuthenticationOptions ClientOptions(string targetHost) => new()
    {
        TargetHost = targetHost,
        RemoteCertificateValidationCallback = (_, cert, _, _) => cert is not null && cert.GetCertHashString() == Certificate.GetCertHashString(),
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
    };

    /// <summary>The ClientHello a real SslStream client sends for <paramref name="targetHost"/>, read off the wire.</summary>
    public static async Task<byte[]> CaptureClientHelloAsync(string targetHost)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await client.ConnectAsync(listener.LocalEndPoint!).DefaultTimeout();
        using var server = await listener.AcceptAsync().DefaultTimeout();
        var ssl = new SslStream(new NetworkStream(client, ownsSocket: false));
        var handshake = ssl.AuthenticateAsClientAsync(ClientOptions(targetHost));

        // The first TLS record header tells how many bytes the ClientHello record has.
        var header = await Net.ReceiveExactlyAsync(server, 5);
        var body = await Net.ReceiveExactlyAsync(server, header[3] << 8 | header[4]);
        server.Close();
        await Assert.ThrowsAnyAsync<Exception>(() => handshake).DefaultTimeout();
        ssl.Dispose();
        return [.. header, .. body];
    }
}
