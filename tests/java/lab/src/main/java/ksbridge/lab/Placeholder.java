package ksbridge.lab;
final class Placeholder {}
