using System.Text;
using Yarp.SockmapForwarder.Internal;
using Yarp.SockmapForwarder.Tests.Infrastructure;

namespace Yarp.SockmapForwarder.Tests;

public class TlsClientHelloTests
{
    [Fact]
    public async Task TryGetServerName_RealSslStreamClientHello_ReturnsTargetHost()
    {
        var hello = await Tls.CaptureClientHelloAsync("db.example.test");

        Assert.Equal(TlsParseStatus.Complete, TlsClientHello.TryGetServerName(hello, out var name));
        Assert.Equal("db.example.test", name);
    }

    [Fact]
    public async Task TryGetServerName_EveryStrictPrefix_NeedsMoreData()
    {
        var hello = await Tls.CaptureClientHelloAsync("db.example.test");

        for (var length = 0; length < hello.Length; length++)
        {
            Assert.Equal(TlsParseStatus.NeedMoreData, TlsClientHello.TryGetServerName(hello.AsSpan(0, length), out _));
        }
    }

    [Fact]
    public async Task TryGetServerName_ClientHelloSplitOverTwoRecords_ReturnsTargetHost()
    {
        var hello = await Tls.CaptureClientHelloAsync("db.example.test");
        var handshake = hello[5..];
        var split = handshake.Length / 3;
        byte[] Record(byte[] fragment) => [22, hello[1], hello[2], (byte)(fragment.Length >> 8), (byte)fragment.Length, .. fragment];
        var twoRecords = Record(handshake[..split]).Concat(Record(handshake[split..])).ToArray();

        Assert.Equal(TlsParseStatus.Complete, TlsClientHello.TryGetServerName(twoRecords, out var name));
        Assert.Equal("db.example.test", name);
    }

    [Fact]
    public void TryGetServerName_PlainHttp_IsNotTls()
    {
        Assert.Equal(TlsParseStatus.NotTls, TlsClientHello.TryGetServerName(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), out _));
    }

    [Theory]
    [InlineData("db.example.test", "db.example.test", true)]
    [InlineData("DB.Example.Test", "db.example.test", true)]
    [InlineData("*.example.test", "db.example.test", true)]
    [InlineData("*.example.test", "a.db.example.test", false)]
    [InlineData("*.example.test", "example.test", false)]
    [InlineData("db.example.test", "other.example.test", false)]
    public void Matches_Patterns_MatchExactOrOneLabelWildcard(string pattern, string serverName, bool expected)
    {
        Assert.Equal(expected, SniMatcher.Matches([pattern], serverName));
    }
}
