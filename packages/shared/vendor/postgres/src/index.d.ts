// The vendored copy has the API (and so the types) of the postgres package it was taken from.
import postgres from 'postgres';
export default postgres;
