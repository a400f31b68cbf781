#!/usr/bin/perl
# Verify a message's DKIM signatures with Perl's Mail::DKIM (an independent verifier),
# taking public keys from a file of "name<TAB>TXT text" lines instead of DNS.
# Usage: dkim_verify.pl MESSAGE_FILE RECORDS_FILE  -> one line per signature + "overall: RESULT"
use strict;
use warnings;
use Mail::DKIM::Verifier;
use Net::DNS;

my ($message_file, $records_file) = @ARGV;
my %records;
open(my $rf, '<', $records_file) or die "cannot read $records_file: $!";
while (my $line = <$rf>) {
    chomp $line;
    my ($name, $text) = split /\t/, $line, 2;
    $records{lc $name} = $text;
}
close $rf;

{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ($name, $type) = @_;
        my $text = $records{lc $name};
        if (!defined $text) { $@ = 'NXDOMAIN'; return; }
        my @strings = ($text =~ /(.{1,255})/gs);
        return (Net::DNS::RR->new(name => $name, type => 'TXT', txtdata => [@strings]));
    };
}

my $dkim = Mail::DKIM::Verifier->new();
open(my $mf, '<', $message_file) or die "cannot read $message_file: $!";
binmode $mf;
while (my $line = <$mf>) {
    $line =~ s/\015?\012\z/\015\012/;
    $dkim->PRINT($line);
}
close $mf;
$dkim->CLOSE;
foreach my $sig ($dkim->signatures) {
    printf "%s %s %s %s\n", $sig->domain, $sig->selector, $sig->algorithm, $sig->result_detail;
}
print "overall: ", $dkim->result, "\n";
